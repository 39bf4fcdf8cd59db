"""Files that hold restricted answers are readable by the server's user only.

Conversations, feedback, sessions and their exports carry answers quoted from
restricted documents: they are created 0600 inside directories created 0700,
whatever the process umask. SQLite creates a database's -wal and -shm files with
the database file's own permissions, so creating the database file first is enough.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Create ``path`` (and missing parents) as 0700; with ``tighten`` an existing one of ours loses group/other access."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, DIR_MODE)  # mkdir's mode is filtered by the umask, chmod's is not
    if tighten:
        _drop_group_and_other(path)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if it does not exist; an existing one of ours loses group/other access."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(path, FILE_MODE)
    except FileExistsError:
        _drop_group_and_other(path)
    return path


def open_private(path: Path, mode: str = "w", **kwargs):
    """``open`` for writing a new file that is 0600 from its first byte (an export, a temporary file)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.chmod(path, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    return os.fdopen(fd, mode, **kwargs)


def _drop_group_and_other(path: Path) -> None:
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~(stat.S_IRWXG | stat.S_IRWXO))
