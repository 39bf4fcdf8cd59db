"""Several queries, one ranking: weighted RRF over chunk ids, every query under the asker's permissions."""

from __future__ import annotations

import pytest

from core.types import Chunk, ScoredChunk
from retrieval.multiquery import MultiQueryRetriever, fuse


def _hit(name: str, score: float = 1.0) -> ScoredChunk:
    chunk = Chunk(document_id=f"doc:{name}", ordinal=0, text=name, index_text=name, heading_path=(), token_count=1,
                  strategy="tokens", principals=("public",), title=name, url="", source="doc")  # fmt: skip
    return ScoredChunk(chunk, score)


class ScriptedRetriever:
    """Answers each query with a fixed ranking and records how it was asked (the fusion is the subject here)."""

    def __init__(self, rankings: dict[str, list[str]]):
        self.rankings = rankings
        self.calls: list[tuple[str, tuple[str, ...], str | None]] = []

    def retrieve(self, query, *, top_k, principals, mode=None, sources=()):
        self.calls.append((query, tuple(principals), mode))
        return [_hit(n) for n in self.rankings.get(query, [])][:top_k]


def test_fusion_sums_reciprocal_ranks_and_a_chunk_found_twice_rises():
    fused = fuse([[_hit("a"), _hit("b"), _hit("c")], [_hit("c"), _hit("d")]], [1.0, 1.0], rrf_k=60, top_k=3)
    assert [h.chunk.title for h in fused] == ["c", "a", "b"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)


def test_weights_and_ties_favour_the_question_as_asked():
    # equal ranks, equal weights: the first ranking wins the tie
    assert [h.chunk.title for h in fuse([[_hit("a")], [_hit("x")]], [1.0, 1.0])] == ["a", "x"]
    assert [h.chunk.title for h in fuse([[_hit("a")], [_hit("x")]], [1.0, 2.0])] == ["x", "a"]
    with pytest.raises(ValueError):
        fuse([[_hit("a")]], [1.0, 1.0])


def test_every_query_is_asked_with_the_same_permissions_and_mode():
    inner = ScriptedRetriever({"q": ["a", "b"], "translated": ["c", "a"]})
    retriever = MultiQueryRetriever(inner, lambda q: ["translated"])
    hits = retriever.retrieve("q", top_k=2, principals=["public", "group:hr"], mode="bm25")
    assert [h.chunk.title for h in hits] == ["a", "c"]
    assert [c[1:] for c in inner.calls] == [(("public", "group:hr"), "bm25")] * 2
    assert retriever.last_queries == ["q", "translated"]


def test_without_other_queries_the_ranking_is_untouched():
    inner = ScriptedRetriever({"q": ["a", "b"]})
    hits = MultiQueryRetriever(inner, lambda q: [q, ""]).retrieve("q", top_k=5, principals=["public"])
    assert [h.chunk.title for h in hits] == ["a", "b"] and hits[0].score == 1.0 and len(inner.calls) == 1


class ScriptedManyRetriever(ScriptedRetriever):
    """Also searches several queries in one call, as HybridRetriever does (its overlap is tested there)."""

    def __init__(self, rankings):
        super().__init__(rankings)
        self.batches: list[list[str]] = []

    def retrieve_many(self, queries, *, top_k, principals, mode=None, sources=()):
        self.batches.append(list(queries))
        return [self.retrieve(q, top_k=top_k, principals=principals, mode=mode, sources=sources) for q in queries]


def test_a_retriever_that_searches_several_queries_gets_them_in_one_call_and_fuses_the_same():
    rankings = {"q": ["a", "b"], "translated": ["c", "a"]}
    one_by_one = MultiQueryRetriever(ScriptedRetriever(rankings), lambda q: ["translated"])
    inner = ScriptedManyRetriever(rankings)
    together = MultiQueryRetriever(inner, lambda q: ["translated"])
    expected = one_by_one.retrieve("q", top_k=3, principals=["public"], mode="bm25")
    got = together.retrieve("q", top_k=3, principals=["public"], mode="bm25")
    assert inner.batches == [["q", "translated"]]
    assert [(h.chunk.title, h.score) for h in got] == [(h.chunk.title, h.score) for h in expected]
