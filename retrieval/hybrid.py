"""Hybrid retrieval: BM25 and dense candidates from Qdrant, fused by weighted reciprocal rank.

Why the language check: with an embedder that cannot read the query's language
(the default English MiniLM cuts Japanese into [UNK]s and lone characters), its
neighbours are noise, and equal-weight fusion with that noise was measured to
drop JSQuAD recall@5 from BM25's 0.97 to 0.68. So when the share of unreadable
pieces in the query (``embedder.unknown_share``) reaches ``unk_threshold``, the
hybrid leans on BM25 alone; with a multilingual embedder the share stays low and
both parts count. Counting [UNK] alone was not enough: the eval module measured
hybrid below BM25 on JSQuAD (recall@5 0.857 vs 0.877 on 300 questions) because
the 7% of questions under 10% [UNK] were fused with noise. The weights
themselves are settings.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from core.errors import RetrievalError
from core.protocols import SparseEncoder
from core.store import ChunkStore, HybridQuery
from core.types import ScoredChunk

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
_TIE_MARGIN = 8


@dataclass(frozen=True)
class FusionConfig:
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    prefetch_k: int = 50
    unk_threshold: float = 0.5


@dataclass(frozen=True)
class RetrievalTrace:
    """How the last query was answered (for logs, the eval report and debugging)."""

    mode: str
    weights: tuple[float, float]
    unknown_share: float
    ms: float


class HybridRetriever:
    """Retrieves chunks a user may read, by BM25, dense similarity or both."""

    def __init__(
        self,
        store: ChunkStore,
        embedder,
        sparse_encoder: SparseEncoder,
        fusion: FusionConfig = FusionConfig(),
        default_mode: Mode = "hybrid",
        respeller=None,
    ) -> None:
        if default_mode not in MODES:
            raise ValueError(f"unknown retriever mode {default_mode!r}; use one of {', '.join(MODES)}")
        self.store = store
        self.embedder = embedder
        self.sparse_encoder = sparse_encoder
        self.fusion = fusion
        self.default_mode = default_mode
        self.respeller = respeller  # retrieval/respell.py: typing slips corrected against this index, or None
        self.last_trace: RetrievalTrace | None = None

    def weights_for(self, query: str, mode: Mode) -> tuple[tuple[float, float], float]:
        """(dense, bm25) fusion weights for this query, and the query's [UNK] share."""
        if mode == "bm25":
            return (0.0, 1.0), 0.0
        if mode == "dense":
            return (1.0, 0.0), 0.0
        share_fn = getattr(self.embedder, "unknown_share", None)
        share = share_fn(query) if share_fn else 0.0
        if share >= self.fusion.unk_threshold:
            return (0.0, self.fusion.bm25_weight or 1.0), share
        return (self.fusion.dense_weight, self.fusion.bm25_weight), share

    def retrieve(
        self,
        query: str,
        *,
        top_k: int = 8,
        principals: Iterable[str],
        mode: Mode | None = None,
        sources: Iterable[str] = (),
    ) -> list[ScoredChunk]:
        return self.retrieve_many([query], top_k=top_k, principals=principals, mode=mode, sources=sources)[0]

    def retrieve_many(
        self,
        queries: Sequence[str],
        *,
        top_k: int = 8,
        principals: Iterable[str],
        mode: Mode | None = None,
        sources: Iterable[str] = (),
    ) -> list[list[ScoredChunk]]:
        """One ranking per query, each exactly what ``retrieve`` gives it, in the order given.

        Why not one ``retrieve`` after another: a query's embedding is most of a warm ask (~20 ms of ~55 at 100k
        chunks), and the question's translation is usually searched by BM25 alone (the model cannot read it).
        So one query's embedding is started on the runtime's own threads (``start_query``) while the queries that
        need none are searched; each query still gets its own embedding, alone, as ``retrieve`` makes it.
        ``last_trace`` describes the last query given.
        """
        mode = mode or self.default_mode
        if mode not in MODES:
            raise RetrievalError(f"unknown retriever mode {mode!r}; use one of {', '.join(MODES)}")
        principals, sources = tuple(principals), tuple(sources)
        if not principals:
            return [[] for _ in queries]  # nobody may read anything: nothing to search
        if self.respeller is not None:
            queries = [self.respeller.respell(q, lambda term: self._chunks_with(term, principals)) for q in queries]
        plans = [self._plan(q, mode) for q in queries]
        embedded = [i for i, plan in enumerate(plans) if plan.needs_dense]
        start = getattr(self.embedder, "start_query", None)
        pending = {}
        if start is not None and embedded and len(embedded) < len(plans):  # something to search meanwhile
            pending[embedded[0]] = start(queries[embedded[0]])
        rankings: list[list[ScoredChunk] | None] = [None] * len(plans)
        traces: list[RetrievalTrace | None] = [None] * len(plans)
        try:
            # Queries without an embedding first: they are searched while the started one is computed.
            for i in sorted(range(len(plans)), key=lambda i: plans[i].needs_dense):
                plan = plans[i]
                dense = None
                if plan.needs_dense:
                    dense = pending.pop(i)() if i in pending else self.embedder.embed_query(queries[i])
                rankings[i], traces[i] = self._search(plan, dense, top_k, principals, sources, mode)
        finally:
            for result in pending.values():  # a search failed: still finish the started embedding (see start_query)
                with contextlib.suppress(Exception):
                    result()
        self.last_trace = traces[-1]
        return rankings

    def _chunks_with(self, term: str, principals: tuple[str, ...], cap: int = 50) -> int:
        """How many chunks these principals may read hold the BM25 term (counted up to ``cap``)."""
        hits = self.store.query(
            HybridQuery(dense=None, sparse=self.sparse_encoder.encode_terms([term]), principals=principals, limit=cap,
                        weights=(0.0, 1.0))
        )
        return len(hits)

    def _plan(self, query: str, mode: Mode) -> "_QueryPlan":
        started = time.perf_counter()
        (w_dense, w_bm25), share = self.weights_for(query, mode)
        sparse = self.sparse_encoder.encode_query(query) if w_bm25 > 0 else None
        if w_bm25 > 0 and not sparse and mode == "hybrid":
            w_dense, w_bm25 = 1.0, 0.0  # only stop words: let the dense part carry the query
        return _QueryPlan((w_dense, w_bm25), share, sparse, started)

    def _search(self, plan: "_QueryPlan", dense, top_k, principals, sources, mode) -> tuple[list, RetrievalTrace]:
        hits = self.store.query(
            HybridQuery(
                dense=dense,
                sparse=plan.sparse,
                principals=principals,
                limit=top_k + _TIE_MARGIN,
                prefetch_limit=max(self.fusion.prefetch_k, top_k + _TIE_MARGIN),
                weights=plan.weights,
                rrf_k=self.fusion.rrf_k,
                sources=sources,
            )
        )
        # Fused ranks tie often (RRF scores are sums of 1/(k + rank)); the engine orders ties arbitrarily, so we
        # fetch a few more and break ties by chunk id: the same index and query always give the same answer.
        hits = sorted(hits, key=lambda h: (-round(h.score, 9), h.chunk.id))[:top_k]
        ms = (time.perf_counter() - plan.started) * 1000
        logger.debug("retrieved %d chunks mode=%s weights=%s unk=%.2f in %.1f ms", len(hits), mode, plan.weights,
                     plan.unknown_share, ms)
        return hits, RetrievalTrace(mode, plan.weights, plan.unknown_share, ms)


@dataclass(frozen=True)
class _QueryPlan:
    """What one query's search needs besides its embedding."""

    weights: tuple[float, float]
    unknown_share: float
    sparse: object
    started: float

    @property
    def needs_dense(self) -> bool:
        return self.weights[0] > 0
