"""The Edge and server store backends give the same answers to the same random queries (after qdrant-client's
congruence tests: one random corpus in every backend, many random filters, results compared with each other)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.store import HybridQuery
from core.store_edge import EdgeStore
from core.store_server import ServerStore
from tests.core.test_store_contract import make_chunk
from retrieval.bm25 import BM25Encoder

DIM = 16
PRINCIPALS = ["public", "group:finance", "group:hr", "user:aiko@example.com", "slack:C1", "domain:example.com"]
SOURCES = ["confluence", "gdocs", "slack", "sample"]
WORDS = "vpn expense payroll laptop badge holiday travel invoice rotation contract office budget".split()
QUERIES = 60


@pytest.fixture(scope="module")
def corpus():
    rng = random.Random(20261201)
    chunks, vectors = [], []
    for i in range(80):
        principals = tuple(sorted(rng.sample(PRINCIPALS, rng.randint(1, 3))))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        chunks.append(make_chunk(f"doc:{i // 2}", i % 2, text, principals=principals, source=rng.choice(SOURCES)))
        vectors.append(np.array([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32))
    return chunks, np.stack(vectors)


@pytest.fixture(scope="module")
def backends(corpus, tmp_path_factory):
    chunks, vectors = corpus
    encoder = BM25Encoder(avg_len=6)
    sparse = [encoder.encode_document(c.text) for c in chunks]
    stores = {"edge": EdgeStore(tmp_path_factory.mktemp("congruence") / "idx"),
              "server": ServerStore(location=":memory:", collection="congruence")}
    for store in stores.values():
        store.ensure_collection(DIM)
        store.upsert(chunks, vectors, sparse)
        store.flush()
    yield stores, encoder
    for store in stores.values():
        store.close()


def random_queries(encoder):
    rng = random.Random(7)
    for _ in range(QUERIES):
        principals = tuple(rng.sample(PRINCIPALS, rng.randint(1, 3)))
        sources = tuple(rng.sample(SOURCES, rng.randint(1, 2))) if rng.random() < 0.5 else ()
        dense = np.array([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
        sparse = encoder.encode_query(" ".join(rng.sample(WORDS, 2)))
        yield principals, sources, dense, sparse


def allowed(chunks, principals, sources) -> set[str]:
    return {c.id for c in chunks if set(c.principals) & set(principals) and (not sources or c.source in sources)}


def test_filters_select_the_same_chunks_in_both_backends(backends, corpus):
    stores, encoder = backends
    chunks, _ = corpus
    compared = 0
    for principals, sources, dense, _ in random_queries(encoder):
        expected = allowed(chunks, principals, sources)
        q = HybridQuery(dense=dense, sparse=None, principals=principals, sources=sources, limit=len(chunks),
                        prefetch_limit=len(chunks))
        found = {name: {h.chunk.id for h in store.query(q)} for name, store in stores.items()}
        assert found["edge"] == found["server"] == expected, (principals, sources)
        compared += bool(expected)
    assert compared >= QUERIES // 2  # most queries had something to find: the comparison was not vacuous


def test_dense_sparse_and_hybrid_rankings_agree(backends, corpus):
    stores, encoder = backends
    chunks, _ = corpus
    nonempty = 0
    for principals, sources, dense, sparse in random_queries(encoder):
        visible = allowed(chunks, principals, sources)
        for q in (HybridQuery(dense=dense, sparse=None, principals=principals, sources=sources, limit=5),
                  HybridQuery(dense=None, sparse=sparse, principals=principals, sources=sources, limit=5),
                  HybridQuery(dense=dense, sparse=sparse, principals=principals, sources=sources, limit=5)):
            edge, server = (store.query(q) for store in stores.values())
            assert len(edge) == len(server) and {h.chunk.id for h in edge + server} <= visible
            if q.use_dense and not q.use_sparse:  # exact cosine, no ties: the same order and scores
                assert [h.chunk.id for h in edge] == [h.chunk.id for h in server]
                # The embedded index rescores with float16 originals (a cosine to ~1e-4), the local server in float32.
                assert [h.dense_score for h in edge] == pytest.approx([h.dense_score for h in server], abs=1e-3)
            elif q.use_sparse and not q.use_dense:  # BM25: equal scores; chunks tied at the cut may differ
                assert [round(h.score, 3) for h in edge] == [round(h.score, 3) for h in server]
                cut = min((h.score for h in edge), default=0) + 1e-3
                assert {h.chunk.id for h in edge if h.score > cut} == {h.chunk.id for h in server if h.score > cut}
            nonempty += bool(edge)
    assert nonempty >= QUERIES  # not a comparison of empty lists
