"""Index generations: build a new index beside the serving one, then switch to it atomically.

Two backends, one small interface the re-index job uses:

- ``EdgeGenerations``: embedded Qdrant Edge stores as directories under the
  index root; ``CURRENT`` names the serving one and is replaced by an atomic
  rename. Qdrant Edge lets one process own a shard directory, and the web app
  holds the serving one open, so an incremental run works on a copy
  (``copy``), never in place; readers notice ``CURRENT`` changed and reopen.
- ``ServerGenerations``: collections on a Qdrant server named
  ``<alias>_gen_<stamp>``, served through the collection alias ``<alias>``, which
  one ``update_collection_aliases`` call moves. The server handles concurrent
  readers, so incremental runs write in place (``in_place``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from core.index_layout import IndexLayout
from core.store import ChunkStore
from core.store_factory import DEFAULT_INDEX_NAME, point_current_index

logger = logging.getLogger(__name__)

# Names of generations made by re-index runs: only these are ever removed as stale.
_PREFIX = "gen-"
# Beside meta.json: the document hashes of a finished generation, so a run can compare without opening it.
_MANIFEST = "documents.json"


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


class IndexGenerations(Protocol):
    """Where index generations live and which one serves."""

    in_place: bool  # incremental runs may write into the serving index

    def serving(self) -> str | None: ...

    def new_name(self) -> str: ...

    def exists(self, name: str) -> bool: ...

    def open(self, name: str) -> ChunkStore: ...

    def copy(self, source: str, target: str) -> None: ...

    def switch(self, name: str) -> None: ...

    def remove(self, name: str) -> None: ...

    def names(self) -> list[str]: ...

    def manifest(self, name: str) -> dict[str, str] | None:
        """document_id -> hash of a generation, read without opening it; None when unknown or out of date."""

    def write_manifest(self, name: str, hashes: dict[str, str]) -> None: ...


class EdgeGenerations:
    """Store directories under ``index_root``; ``CURRENT`` names the serving one."""

    in_place = False

    def __init__(self, index_root: Path, layout: IndexLayout | None = None) -> None:
        self.root = Path(index_root)
        self.layout = layout

    def serving(self) -> str | None:
        pointer = self.root / "CURRENT"
        name = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else DEFAULT_INDEX_NAME
        # Only a complete store serves: a first `kura ingest` killed while creating it leaves an unfinished one.
        return name if name and self.open(name).exists() else None

    def new_name(self) -> str:
        return f"{_PREFIX}{_stamp()}"

    def exists(self, name: str) -> bool:
        return (self.root / name).is_dir()

    def open(self, name: str) -> ChunkStore:
        from core.store_edge import EdgeStore

        return EdgeStore(self.root / name, layout=self.layout)

    def copy(self, source: str, target: str) -> None:
        """Copy a store directory; the copy appears under ``target`` only once complete."""
        staging = self.root / f".copy-{target}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(self.root / source, staging)
        os.replace(staging, self.root / target)

    def switch(self, name: str) -> None:
        point_current_index(self.root, name)

    def remove(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)

    def manifest(self, name: str) -> dict[str, str] | None:
        path = self.root / name / _MANIFEST
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        # Valid only while meta.json is the one it was written with: every pipeline run that changes a store
        # rewrites meta.json (a new file), so `kura ingest` or `kura sync` writing in place invalidates it.
        return data["hashes"] if data.get("meta") == self._meta_stamp(name) else None

    def write_manifest(self, name: str, hashes: dict[str, str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root / name, prefix=".manifest-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"meta": self._meta_stamp(name), "hashes": hashes}, fh)
        os.replace(tmp, self.root / name / _MANIFEST)

    def _meta_stamp(self, name: str) -> list[int]:
        stat = (self.root / name / "meta.json").stat()
        return [stat.st_ino, stat.st_mtime_ns, stat.st_size]

    def names(self) -> list[str]:
        """The generations made by re-index runs, half-made copies a crash left behind, and ``main``.

        ``main`` (what `kura ingest` builds before any re-index) is listed so that the job removes it once it
        does not serve: after a switch away from it, or when a killed first ingest left it unfinished.
        """
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and (p.name.startswith((_PREFIX, ".copy-")) or p.name == DEFAULT_INDEX_NAME))


class ServerGenerations:
    """Collections ``<alias>_gen_<stamp>`` on a Qdrant server, the serving one reached through ``<alias>``."""

    in_place = True

    def __init__(self, client, alias: str, layout: IndexLayout | None = None) -> None:
        self.client = client
        self.alias = alias
        self.layout = layout

    def _alias_target(self) -> str | None:
        for a in self.client.get_aliases().aliases:
            if a.alias_name == self.alias:
                return a.collection_name
        return None

    def serving(self) -> str | None:
        target = self._alias_target()
        if target is not None:
            return target
        # A collection created under the alias name itself (by `kura ingest` before any re-index).
        return self.alias if self.client.collection_exists(self.alias) else None

    def new_name(self) -> str:
        return f"{self.alias}_{_PREFIX}{_stamp()}".replace("-", "_")

    def exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def open(self, name: str) -> ChunkStore:
        from core.store_server import ServerStore

        return ServerStore(client=self.client, collection=name, layout=self.layout)

    def copy(self, source: str, target: str) -> None:
        raise NotImplementedError("server collections are updated in place")

    def switch(self, name: str) -> None:
        from qdrant_client import models

        ops = []
        if self._alias_target() is not None:
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.alias)))
        elif self.client.collection_exists(self.alias):
            # One-time move from a plain collection to an alias: the name is free only once that collection goes.
            logger.warning("replacing collection %s by an alias to %s (queries fail for a moment)", self.alias, name)
            self.client.delete_collection(self.alias)
        ops.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)))
        self.client.update_collection_aliases(change_aliases_operations=ops)

    def remove(self, name: str) -> None:
        # The alias name is never deleted: after a switch it names the alias, and deleting it drops the target.
        if name not in (self.alias, self._alias_target()) and self.client.collection_exists(name):
            self.client.delete_collection(name)

    def manifest(self, name: str) -> dict[str, str] | None:
        return None  # incremental runs update a server collection in place: nothing to spare

    def write_manifest(self, name: str, hashes: dict[str, str]) -> None:
        pass

    def names(self) -> list[str]:
        prefix = f"{self.alias}_{_PREFIX}".replace("-", "_")
        return sorted(c.name for c in self.client.get_collections().collections if c.name.startswith(prefix))
