"""One run at a time: an exclusive ``flock`` on a file under the data directory.

The kernel releases the lock when the holder exits, however it exits (even
``kill -9``), so a crashed run never leaves a stale lock behind. The file
keeps the holder's pid and start time for the message the next run shows.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path

from core.errors import JobLockedError


class JobLock:
    """``with JobLock(path, "kura reindex"):`` runs the block only if no other process holds the lock."""

    def __init__(self, path: Path, job: str) -> None:
        self.path = Path(path)
        self.job = job
        self._fd: int | None = None

    def __enter__(self) -> "JobLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise JobLockedError(
                f"another {self.job} is running ({holder}; lock {self.path}); this run did nothing"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
