"""One question, several queries (the question and its translations), one ranking: weighted reciprocal rank fusion.

``MultiQueryRetriever`` wraps any retriever: it retrieves with the question as
asked, asks ``expand`` for more queries (``chat.rewrite.CrossLanguageRewriter``
gives the question in the index's other languages), retrieves with each under
the same permissions, and fuses by RRF over chunk ids (the same rule Qdrant
applies to the dense and BM25 parts inside one query). The question as asked
keeps the first place in ties and a weight of its own, so a noisy translation
can add candidates but not push the same-language answer far down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from core.types import ScoredChunk

logger = logging.getLogger(__name__)


def fuse(
    rankings: Sequence[Sequence[ScoredChunk]], weights: Sequence[float], *, rrf_k: int = 60, top_k: int = 8
) -> list[ScoredChunk]:
    """Weighted RRF: score(chunk) = sum of weight / (rrf_k + rank) over the rankings that hold it."""
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    first_seen: dict[str, tuple[int, int, ScoredChunk]] = {}
    for r, (ranking, weight) in enumerate(zip(rankings, weights)):
        for rank, hit in enumerate(ranking, 1):
            cid = hit.chunk.id
            scores[cid] = scores.get(cid, 0.0) + weight / (rrf_k + rank)
            first_seen.setdefault(cid, (r, rank, hit))
    # ties: the earlier ranking (the question as asked) and the better rank win, then the chunk id (deterministic)
    order = sorted(scores, key=lambda c: (-round(scores[c], 12), first_seen[c][0], first_seen[c][1], c))
    return [replace(first_seen[c][2], score=scores[c]) for c in order[:top_k]]


class MultiQueryRetriever:
    """A retriever that also searches with ``expand(question)``'s queries and fuses the rankings."""

    def __init__(
        self,
        inner,
        expand: Callable[[str], list[str]],
        *,
        rrf_k: int = 60,
        original_weight: float = 1.0,
        expansion_weight: float = 1.0,
    ) -> None:
        self.inner = inner
        self.expand = expand
        self.rrf_k = rrf_k
        self.original_weight = original_weight
        self.expansion_weight = expansion_weight
        self.last_queries: list[str] = []

    def retrieve(
        self, query: str, *, top_k: int = 8, principals: Iterable[str], mode=None, sources: Iterable[str] = ()
    ) -> list[ScoredChunk]:
        principals, sources = tuple(principals), tuple(sources)
        extra = [q for q in self.expand(query) if q and q != query]
        self.last_queries = [query, *extra]
        queries = [query, *extra]
        # The same permissions, mode and sources for every version of the question. A retriever that can search
        # several queries at once (HybridRetriever: embeddings overlap the BM25-only searches) gives the same
        # rankings as one retrieve per query.
        many = getattr(self.inner, "retrieve_many", None)
        if many is not None:
            rankings = many(queries, top_k=top_k, principals=principals, mode=mode, sources=sources)
        else:
            rankings = [self.inner.retrieve(q, top_k=top_k, principals=principals, mode=mode, sources=sources)
                        for q in queries]
        if not extra:
            return rankings[0]
        logger.debug("fused %d queries", len(rankings))
        weights = [self.original_weight] + [self.expansion_weight] * len(extra)
        return fuse(rankings, weights, rrf_k=self.rrf_k, top_k=top_k)

    def __getattr__(self, name):
        # last_trace, weights_for, store ...: the wrapped retriever's
        return getattr(self.inner, name)
