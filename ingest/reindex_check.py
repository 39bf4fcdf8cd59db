"""What a new index must pass before it serves: counts and a smoke query.

- Every document the sources listed with text this run (and that did not fail)
  is in the index.
- It holds at least ``min_share`` of the serving index's documents, so a source
  that suddenly lists nothing (a wrong setting, an expired token that still
  returns 200) cannot empty the index overnight.
- A smoke query - one listed document's title and opening - finds that document.

After these, a full rebuild meets its ``QualityGate`` (when the composition
root gives it one: the feedback regression set, bots/regression.py): answers
people rated helpful must not get worse on the new index beyond a margin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from core.store import ChunkStore, HybridQuery
from core.types import Document

logger = logging.getLogger(__name__)

_PROBE_CHARS = 300


@dataclass
class SourceListing:
    """What the sources listed during a run: the facts the check compares the index with."""

    with_text: set[str] = field(default_factory=set)  # ids of listed documents that have text
    failed: set[str] = field(default_factory=set)  # document ids that failed to fetch or chunk
    deleted: set[str] = field(default_factory=set)
    probe: Document | None = None  # the first listed document with text: the smoke query's target

    def add(self, document: Document) -> None:
        if document.text.strip():
            self.with_text.add(document.id)
            if self.probe is None:
                self.probe = document


@dataclass
class CheckResult:
    hashes: dict[str, str]  # document_id -> hash of everything in the new index
    chunks: int
    problems: list[str]

    @property
    def documents(self) -> int:
        return len(self.hashes)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class GateVerdict:
    """What a quality gate found on a new index."""

    problems: list[str] = field(default_factory=list)  # why it must not serve (empty: it may)
    worse: list[str] = field(default_factory=list)  # one line per question that got worse
    accept: Callable[[str], None] = lambda generation: None  # called once the generation serves


class QualityGate(Protocol):
    """Judges a new index by its answers before it serves; ``pipeline`` gives the embedder and BM25 encoder."""

    def __call__(self, store: ChunkStore, pipeline) -> GateVerdict: ...


def check_index(store: ChunkStore, listing: SourceListing, pipeline, *, serving_documents: int,
                min_share: float) -> CheckResult:
    """Counts and a smoke query on ``store``; ``pipeline`` supplies the embedder and BM25 encoder it was built with."""
    hashes = store.document_hashes()
    indexed = set(hashes)
    chunks = store.count()
    problems: list[str] = []
    missing = listing.with_text - listing.failed - listing.deleted - indexed
    if missing:
        problems.append(f"{len(missing)} listed documents are missing from the new index, e.g. {sorted(missing)[0]}")
    if not indexed:
        problems.append("the new index holds no documents")
    elif serving_documents and len(indexed) < min_share * serving_documents:
        problems.append(
            f"the new index holds {len(indexed)} documents, under {min_share:.0%} of the serving index's "
            f"{serving_documents} (KURA_REINDEX_MIN_SHARE; --force switches anyway)"
        )
    if chunks < len(indexed):
        problems.append(f"{chunks} chunks for {len(indexed)} documents")
    probe = listing.probe
    if probe is not None and probe.id in indexed and not _smoke_query_finds(store, pipeline, probe):
        problems.append(f"the smoke query for {probe.id} ({probe.title!r}) did not find it")
    return CheckResult(hashes, chunks, problems)


def _smoke_query_finds(store: ChunkStore, pipeline, probe: Document) -> bool:
    text = f"{probe.title}\n{probe.text[:_PROBE_CHARS]}"
    encoder = pipeline.sparse_encoder.with_avg_len(float(store.get_meta().get("bm25_avg_len") or 100.0))
    hits = store.query(
        HybridQuery(
            dense=pipeline.embedder.embed_query(text),
            sparse=encoder.encode_query(text),
            principals=probe.principals,
            limit=10,
        )
    )
    found = any(h.chunk.document_id == probe.id for h in hits)
    logger.info("smoke query for %s: %s among %d hits", probe.id, "found" if found else "NOT found", len(hits))
    return found
