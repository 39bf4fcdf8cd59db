"""The small interfaces stages talk through. Implementations live in their own packages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np

from core.store import SparseVector
from core.types import Answer, Chunk, Document, ScoredChunk


@dataclass(frozen=True)
class DocumentFailure:
    """One document a connector could not fetch or parse; reported as data so the sync goes on."""

    source: str
    source_id: str
    reason: str


@dataclass
class SyncBatch:
    """What a connector yields: changed documents, deleted ids and per-document failures."""

    documents: list[Document] = field(default_factory=list)
    deleted_ids: list[str] = field(default_factory=list)  # Document.id values
    failures: list[DocumentFailure] = field(default_factory=list)
    # Items left out on purpose (a symbolic link, a special file), reported so nothing is dropped silently.
    skipped: list[DocumentFailure] = field(default_factory=list)


@runtime_checkable
class Connector(Protocol):
    """A source of documents. ``load`` yields everything in scope; ``poll`` only what changed since the checkpoint."""

    name: str

    def load(self) -> Iterator[SyncBatch]: ...

    def poll(self, since: datetime | None) -> Iterator[SyncBatch]: ...


class Chunker(Protocol):
    name: str

    def split(self, document: Document) -> list[Chunk]: ...


class Embedder(Protocol):
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class SparseEncoder(Protocol):
    """Turns text into BM25 sparse vectors (see retrieval/bm25.py)."""

    def encode_document(self, text: str) -> "SparseVector": ...

    def encode_query(self, text: str) -> "SparseVector": ...

    def encode_terms(self, terms: list[str]) -> "SparseVector": ...

    def term_count(self, text: str) -> int: ...

    def with_avg_len(self, avg_len: float) -> "SparseEncoder": ...


class Retriever(Protocol):
    def retrieve(self, query: str, *, top_k: int, principals: Iterable[str]) -> list[ScoredChunk]: ...


class Answerer(Protocol):
    name: str

    def answer(self, question: str, chunks: Sequence[ScoredChunk]) -> Answer: ...


class SupportScorer(Protocol):
    """Scores how well a source text supports a claim: 0 (not at all) .. 1 (fully)."""

    name: str

    def score(self, claim: str, sources: Sequence[str]) -> float: ...
