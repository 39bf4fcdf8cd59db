"""The content-hash cache: identical passages are embedded once, across documents and batches, and vectors stay right."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedding_cache import CachedEmbedder


class CountingEmbedder:
    """A deterministic embedder (vector from the text's bytes) that records what it was asked to embed."""

    dimension = 8

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_documents(self, texts):
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for i, byte in enumerate(text.encode("utf-8")):
                out[row, i % self.dimension] += byte
        return out

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def test_identical_texts_are_embedded_once_across_calls():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    footer = "Questions? Ask #it-help. This page is maintained by IT."
    first = cached.embed_documents(["alpha", footer, "beta", footer])
    second = cached.embed_documents([footer, "gamma", "alpha"])
    assert inner.seen == ["alpha", footer, "beta", "gamma"]
    assert cached.texts_embedded == 4 and cached.cache_hits == 3 and cached.calls == 2
    reference = CountingEmbedder()
    assert np.array_equal(first, reference.embed_documents(["alpha", footer, "beta", footer]))
    assert np.array_equal(second, reference.embed_documents([footer, "gamma", "alpha"]))


def test_the_cache_is_bounded_and_forgets_the_least_recently_used():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, capacity=2)
    cached.embed_documents(["a", "b"])
    cached.embed_documents(["a"])  # a is now the most recent
    cached.embed_documents(["c"])  # evicts b
    cached.embed_documents(["a", "b"])
    assert inner.seen == ["a", "b", "c", "b"]


def test_everything_else_passes_through():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    assert cached.dimension == 8
    assert np.array_equal(cached.embed_query("q"), inner.embed_query("q"))
    assert cached.embed_documents([]).shape == (0, 8)
    with pytest.raises(ValueError):
        CachedEmbedder(inner, capacity=-1)


def test_a_query_vector_is_reused_as_the_same_texts_passage_vector(compiled_embedder):
    """Retrieval embeds the question as a query; the answerability check then embeds it as a passage: once only."""
    from retrieval.embedder_compiled import CompiledEmbedder

    inner = CompiledEmbedder(compiled_embedder.model_name, backend=compiled_embedder.backend,
                             cache_dir=compiled_embedder.cache_dir, threads=1)
    cached = CachedEmbedder(inner)
    question, sentence = "Who approves an expense report?", "The department head approves expense reports."
    query = cached.embed_query(question)
    before = inner.texts_embedded
    both = cached.embed_documents([question, sentence])
    assert inner.texts_embedded == before + 1  # the sentence only
    # bit for bit what embedding the question as a passage gives: the same batch of one
    assert np.array_equal(both[0], query) and np.array_equal(query, inner.embed_documents([question])[0])


def test_a_query_with_its_own_prefix_is_not_taken_for_a_passage():
    inner = CountingEmbedder()
    inner.query_prefix, inner.passage_prefix = "query: ", "passage: "
    cached = CachedEmbedder(inner)
    cached.embed_query("vpn")
    cached.embed_documents(["vpn"])
    assert inner.seen == ["vpn", "vpn"]  # embedded twice: the vectors would differ with real prefixes


def test_a_started_query_is_kept_as_its_passage_vector_as_embed_query_is(compiled_embedder):
    from retrieval.embedder_compiled import CompiledEmbedder

    inner = CompiledEmbedder(compiled_embedder.model_name, backend=compiled_embedder.backend,
                             cache_dir=compiled_embedder.cache_dir, threads=1)
    cached = CachedEmbedder(inner)
    inner.load()
    question = "Who signs off a purchase order over 1 million yen?"
    vector = cached.start_query(question)()
    before = inner.texts_embedded
    assert np.array_equal(cached.embed_documents([question])[0], vector) and inner.texts_embedded == before
    assert np.array_equal(vector, cached.embed_query(question))


def test_an_embedder_without_start_query_computes_when_asked():
    inner = CountingEmbedder()
    pending = CachedEmbedder(inner).start_query("vpn")
    assert inner.seen == []  # nothing yet
    pending()
    assert inner.seen == ["vpn"]
