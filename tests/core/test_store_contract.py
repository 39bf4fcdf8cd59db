"""One contract, every backend: the embedded Qdrant Edge store and the qdrant-client (server API) store."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import StoreError, StoreNotFoundError
from core.store import HybridQuery
from core.store_edge import EdgeStore
from core.store_server import ServerStore
from core.types import Chunk
from retrieval.bm25 import BM25Encoder

DIM = 8


def make_chunk(doc: str, ordinal: int, text: str, principals=("public",), source="sample") -> Chunk:
    return Chunk(
        document_id=doc,
        ordinal=ordinal,
        text=text,
        index_text=text,
        heading_path=("Top", "Sub"),
        token_count=len(text.split()),
        strategy="tokens",
        principals=tuple(principals),
        title=f"title of {doc}",
        url=f"https://example.com/{doc}",
        source=source,
        document_hash=f"hash-{doc}",
    )


def unit(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    return v


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path):
    if request.param == "edge":
        s = EdgeStore(tmp_path / "idx")
    else:
        s = ServerStore(location=":memory:", collection="contract")
    yield s
    s.close()


CORPUS = [
    make_chunk("doc:a", 0, "the vpn setup guide for new laptops"),
    make_chunk("doc:a", 1, "expense reports are due at month end"),
    make_chunk("doc:b", 0, "payroll calendar for the finance team", principals=("group:finance",)),
    make_chunk("doc:c", 0, "on call rotation for the payments service", source="slack"),
]


def fill(store) -> BM25Encoder:
    enc = BM25Encoder(avg_len=6)
    store.ensure_collection(DIM)
    store.upsert(CORPUS, np.stack([unit(i) for i in range(len(CORPUS))]), [enc.encode_document(c.text) for c in CORPUS])
    store.flush()
    return enc


def test_missing_store_says_to_ingest(store):
    assert not store.exists()
    with pytest.raises(StoreNotFoundError, match="kura ingest"):
        store.count()


def test_upsert_count_get_and_idempotent_reupsert(store):
    enc = fill(store)
    assert store.count() == 4
    assert store.count("doc:a") == 2
    ids = [CORPUS[2].id, "00000000-0000-0000-0000-000000000000", CORPUS[0].id]
    got = store.get(ids)
    assert [c.id for c in got] == [CORPUS[2].id, CORPUS[0].id]
    assert got[0] == CORPUS[2]  # every field survives the round trip
    # Same chunks again: same deterministic ids, so no duplicates.
    store.upsert(CORPUS[:2], np.stack([unit(0), unit(1)]), [enc.encode_document(c.text) for c in CORPUS[:2]])
    assert store.count() == 4


def test_delete_document_removes_only_its_chunks(store):
    fill(store)
    store.delete_documents(["doc:a"])
    assert store.count("doc:a") == 0
    assert store.count() == 2
    assert set(store.document_hashes()) == {"doc:b", "doc:c"}


def test_bm25_only_query_finds_exact_terms_and_respects_principals(store):
    enc = fill(store)
    # "vpn" is in a public chunk, "payroll calendar" only in the finance one: public readers get the first only.
    q = HybridQuery(dense=None, sparse=enc.encode_query("payroll calendar vpn"), principals=("public",), limit=5)
    assert [r.chunk.document_id for r in store.query(q)] == ["doc:a"]
    q = HybridQuery(dense=None, sparse=enc.encode_query("payroll calendar"), principals=("group:finance",), limit=5)
    hits = store.query(q)
    assert [h.chunk.document_id for h in hits] == ["doc:b"]
    assert hits[0].sparse_score is not None and hits[0].sparse_score > 0


def test_dense_only_query_ranks_by_vector(store):
    fill(store)
    q = HybridQuery(dense=unit(3), sparse=None, principals=("public",), limit=2)
    hits = store.query(q)
    assert hits[0].chunk.id == CORPUS[3].id
    assert hits[0].dense_score == pytest.approx(1.0, abs=1e-5)


def test_hybrid_fuses_both_parts(store):
    enc = fill(store)
    # Dense points at chunk 0, BM25 at chunk 3: both must come back.
    q = HybridQuery(dense=unit(0), sparse=enc.encode_query("rotation payments"), principals=("public",), limit=3)
    ids = [h.chunk.id for h in store.query(q)]
    assert CORPUS[0].id in ids and CORPUS[3].id in ids
    # Zero dense weight: the BM25 hit leads.
    q0 = HybridQuery(
        dense=unit(0), sparse=enc.encode_query("rotation payments"), principals=("public",), limit=3, weights=(0.0, 1.0)
    )
    assert store.query(q0)[0].chunk.id == CORPUS[3].id


def test_source_filter(store):
    enc = fill(store)
    q = HybridQuery(dense=unit(3), sparse=enc.encode_query("rotation"), principals=("public",), sources=("sample",))
    hits = store.query(q)
    assert hits, "the sample chunks must still be found"
    assert {h.chunk.source for h in hits} == {"sample"}  # the best match (doc:c, slack) is filtered out


def test_meta_round_trip_and_dimension_guard(store):
    fill(store)
    store.set_meta({"bm25_avg_len": 6.0, "embedding_model": "m"})
    meta = store.get_meta()
    assert meta["bm25_avg_len"] == 6.0 and meta["dense_dim"] == DIM
    with pytest.raises(StoreError, match="reindex --full"):
        store.ensure_collection(DIM * 2)


def test_edge_store_persists_across_reopen(tmp_path):
    s = EdgeStore(tmp_path / "idx")
    fill(s)
    s.close()
    reopened = EdgeStore(tmp_path / "idx")
    assert reopened.count() == 4
    reopened.close()
