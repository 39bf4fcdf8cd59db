"""The store facade: one interface over Qdrant, embedded (Qdrant Edge) or a server (qdrant-client).

A collection holds, per chunk, a named dense vector (``dense``), a named sparse
BM25 vector (``bm25``, IDF modifier: Qdrant multiplies our per-chunk term
weights by the corpus IDF at query time) and the chunk's fields as payload.
Payload indexes on ``principals``, ``source`` and ``document_id`` keep the
permission filter and per-document deletes cheap.

Index-level facts (embedding model, dimension, BM25 average length, chunking
strategy) are kept as metadata beside the points, so a query with a different
embedder fails loudly instead of returning nonsense.

A document is visible only once all its chunks are in. The pipeline writes a
document's chunks *staged* (``upsert(..., staged=True)``): payload ``staged: "yes"``
and no principals, so no permission filter - the filter every read path applies
- can match them, and ``get``/``count`` leave them out. ``publish`` then gives a
document's chunks their principals in one update operation. A run killed
before that leaves only invisible chunks, which ``document_hashes`` reports
with the hash "" (unfinished), so the next run rewrites the document.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from core.errors import StoreError
from core.types import Chunk, ScoredChunk

DENSE = "dense"
BM25 = "bm25"
INDEXED_FIELDS = ("principals", "source", "document_id")


@dataclass(frozen=True)
class SparseVector:
    """Term ids and weights of one text's BM25 vector."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __bool__(self) -> bool:
        return bool(self.indices)


@dataclass(frozen=True)
class HybridQuery:
    """A query to the store. Leave ``dense`` or ``sparse`` empty to search with one part only.

    ``weights`` are (dense, bm25) for weighted reciprocal-rank fusion; a zero
    weight drops that part from the query altogether.
    """

    dense: np.ndarray | None
    sparse: SparseVector | None
    principals: tuple[str, ...]
    limit: int = 10
    prefetch_limit: int = 50
    weights: tuple[float, float] = (1.0, 1.0)
    rrf_k: int = 60
    sources: tuple[str, ...] = ()  # restrict to these sources; empty = all

    @property
    def use_dense(self) -> bool:
        return self.dense is not None and self.weights[0] > 0

    @property
    def use_sparse(self) -> bool:
        return bool(self.sparse) and self.weights[1] > 0


# Payload key and value marking a chunk written but not yet published (see the module docstring). A keyword,
# not a bool: Qdrant Edge's Python binding does not match bool values (MatchValue(True) finds nothing).
STAGED = "staged"
STAGED_YES = "yes"


def is_staged(payload: dict[str, Any]) -> bool:
    return payload.get(STAGED) == STAGED_YES


def chunk_to_payload(chunk: Chunk, *, staged: bool = False) -> dict[str, Any]:
    payload = {name: getattr(chunk, name) for name in _CHUNK_FIELD_NAMES}
    payload["heading_path"] = list(chunk.heading_path)
    payload["principals"] = [] if staged else list(chunk.principals)
    payload["chunk_id"] = chunk.id
    if staged:
        payload[STAGED] = STAGED_YES
    return payload


def publish_payload(principals: Sequence[str]) -> dict[str, Any]:
    """What ``publish`` sets on a document's staged chunks: one payload update makes them visible."""
    return {"principals": list(principals), STAGED: "no"}


_CHUNK_FIELD_NAMES = tuple(f.name for f in fields(Chunk))  # once: ``fields()`` costs ~5 us a call, a call a chunk
_CHUNK_FIELDS = frozenset(_CHUNK_FIELD_NAMES)


def payload_to_chunk(payload: dict[str, Any]) -> Chunk:
    values = {k: v for k, v in payload.items() if k in _CHUNK_FIELDS}
    values["heading_path"] = tuple(values.get("heading_path") or ())
    values["principals"] = tuple(values.get("principals") or ())
    return Chunk(**values)


class ChunkStore(ABC):
    """What every backend offers. The contract tests in tests/core/test_store_contract.py pin it."""

    @abstractmethod
    def ensure_collection(self, dense_dim: int) -> None:
        """Create the collection with its vectors and payload indexes if it does not exist."""

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def upsert(self, chunks: Sequence[Chunk], dense: np.ndarray, sparse: Sequence[SparseVector], *,
               staged: bool = False) -> None:
        """Write chunks; ``staged`` ones stay invisible (no principals) until ``publish``."""

    @abstractmethod
    def publish(self, document_ids: Sequence[str], principals: Sequence[str]) -> None:
        """Make the staged chunks of these documents (which share ``principals``) visible, in one operation."""

    @abstractmethod
    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Remove every chunk of these documents."""

    @abstractmethod
    def count(self, document_id: str | None = None) -> int:
        """Number of visible chunks (of one document, if given); staged ones are not counted."""

    @abstractmethod
    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Visible chunks by id, in the order asked; missing and staged ids are skipped."""

    @abstractmethod
    def query(self, query: HybridQuery) -> list[ScoredChunk]: ...

    @abstractmethod
    def document_hashes(self) -> dict[str, str]:
        """document_id -> document_hash of everything indexed (what incremental sync compares against).

        A document with a staged chunk maps to "": it is unfinished, and counts as changed.
        """

    @abstractmethod
    def get_meta(self) -> dict[str, Any]: ...

    @abstractmethod
    def set_meta(self, meta: dict[str, Any]) -> None: ...

    def flush(self) -> None:
        """Persist pending writes (no-op where the backend persists on its own)."""

    def optimize(self) -> None:
        """Build vector indexes after bulk writes (no-op where the backend does it itself)."""

    def close(self) -> None: ...

    def __enter__(self) -> "ChunkStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _check_upsert(chunks: Sequence[Chunk], dense: np.ndarray, sparse: Sequence[SparseVector]) -> None:
        if len(chunks) != len(dense) or len(chunks) != len(sparse):
            raise StoreError(
                f"upsert needs one dense and one sparse vector per chunk: got {len(chunks)} chunks, "
                f"{len(dense)} dense, {len(sparse)} sparse"
            )
