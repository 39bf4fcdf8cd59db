"""Opens the configured store: the embedded engine under the data directory, or a Qdrant server by URL.

The embedded index lives in ``<data_dir>/index/<name>/``; ``<data_dir>/index/CURRENT``
names the serving one. A full re-index builds a new directory and replaces
CURRENT with an atomic rename, so readers see either the old index or the new
one, never a half-built one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.index_layout import IndexLayout
from core.settings import Settings
from core.store import ChunkStore

DEFAULT_INDEX_NAME = "main"


def current_index_dir(index_root: Path) -> Path:
    pointer = index_root / "CURRENT"
    if pointer.exists():
        name = pointer.read_text(encoding="utf-8").strip()
        if name:
            return index_root / name
    return index_root / DEFAULT_INDEX_NAME


def point_current_index(index_root: Path, name: str) -> None:
    """Atomically make ``index_root/name`` the serving index."""
    index_root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=index_root, prefix=".CURRENT-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_root / "CURRENT")


def open_store(settings: Settings, *, collection: str | None = None, path: Path | None = None) -> ChunkStore:
    """The store the settings point at; ``collection``/``path`` override the serving one (re-index, eval)."""
    layout = IndexLayout.from_settings(settings)
    if settings.qdrant_url:
        from core.store_server import ServerStore

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerStore(
            settings.qdrant_url, api_key=key, collection=collection or settings.collection, layout=layout
        )
    from core.store_edge import EdgeStore

    return EdgeStore(path or current_index_dir(settings.index_dir), layout=layout)
