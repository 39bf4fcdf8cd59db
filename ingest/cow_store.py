"""A store that reads the serving index without opening it and copies it on the first write.

An incremental run on the embedded store must work on a copy (the web app
holds the serving shard). Most runs change nothing, and copying and opening
the index only to find that out was most of a no-change run's cost. So the
run starts on this store: the document hashes come from the generation's
manifest and the metadata from its ``meta.json`` (files, no shard lock); the
first write calls ``before_copy`` (the job records the pending generation
there), copies the serving generation and carries on in the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from core.errors import StoreError
from core.store import ChunkStore, HybridQuery, SparseVector
from core.types import Chunk, ScoredChunk


class CopyOnWriteStore(ChunkStore):
    """Reads from a serving generation's files; writes (and reads after the first write) go to its copy."""

    def __init__(self, generations, source: str, target: str, hashes: dict[str, str],
                 before_copy: Callable[[], None]) -> None:
        self.generations = generations
        self.source = source
        self.target = target
        self._hashes = hashes
        self._meta = generations.open(source).get_meta()  # meta.json only: the shard stays closed
        self._before_copy = before_copy
        self._store: ChunkStore | None = None

    @property
    def copied(self) -> bool:
        return self._store is not None

    def _copy(self) -> ChunkStore:
        if self._store is None:
            self._before_copy()
            self.generations.copy(self.source, self.target)
            self._store = self.generations.open(self.target)
        return self._store

    # --- reads that need no copy ------------------------------------------------------------
    def exists(self) -> bool:
        return True

    def ensure_collection(self, dense_dim: int) -> None:
        if self._store is not None:
            return self._store.ensure_collection(dense_dim)
        known = self._meta.get("dense_dim")
        if known is not None and known != dense_dim:
            raise StoreError(
                f"the serving index holds {known}-dim vectors but the embedder makes {dense_dim}-dim ones; "
                "run `kura reindex --full` after changing KURA_EMBEDDING_MODEL"
            )

    def document_hashes(self) -> dict[str, str]:
        return self._store.document_hashes() if self._store is not None else dict(self._hashes)

    def get_meta(self) -> dict[str, Any]:
        return self._store.get_meta() if self._store is not None else dict(self._meta)

    # --- everything else works on the copy ---------------------------------------------------------
    def set_meta(self, meta: dict[str, Any]) -> None:
        self._copy().set_meta(meta)

    def upsert(self, chunks: Sequence[Chunk], dense: np.ndarray, sparse: Sequence[SparseVector], *,
               staged: bool = False) -> None:
        self._copy().upsert(chunks, dense, sparse, staged=staged)

    def publish(self, document_ids: Sequence[str], principals: Sequence[str]) -> None:
        self._copy().publish(document_ids, principals)

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        self._copy().delete_documents(document_ids)

    def count(self, document_id: str | None = None) -> int:
        return self._copy().count(document_id)

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return self._copy().get(chunk_ids)

    def query(self, query: HybridQuery) -> list[ScoredChunk]:
        return self._copy().query(query)

    def optimize(self) -> None:
        self._copy().optimize()

    def flush(self) -> None:
        if self._store is not None:
            self._store.flush()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
