"""The embedded store keeps its total chunk count between writes: every write, of any kind, is seen at once."""

from __future__ import annotations

import numpy as np

from core.store_edge import EdgeStore
from retrieval.bm25 import BM25Encoder
from tests.core.test_store_contract import CORPUS, make_chunk, unit


def test_the_total_follows_every_kind_of_write_and_survives_a_reopen(tmp_path):
    enc = BM25Encoder(avg_len=6)
    store = EdgeStore(tmp_path / "idx")
    store.ensure_collection(8)
    assert store.count() == 0
    store.upsert(CORPUS, np.stack([unit(i) for i in range(len(CORPUS))]), [enc.encode_document(c.text) for c in CORPUS])
    assert store.count() == store.count() == 4  # counted, then kept
    staged = [make_chunk("doc:new", 0, "a chunk written but not yet published")]
    store.upsert(staged, np.stack([unit(5)]), [enc.encode_document(staged[0].text)], staged=True)
    assert store.count() == 4  # staged chunks are not counted
    store.publish(["doc:new"], ["public"])
    assert store.count() == 5
    assert store.count("doc:a") == 2 and store.count() == 5  # a per-document count leaves the total alone
    store.delete_documents(["doc:a"])
    assert store.count() == 3
    store.upsert(CORPUS[:1], np.stack([unit(0)]), [enc.encode_document(CORPUS[0].text)])
    assert store.count() == 4
    store.flush()
    store.close()
    reopened = EdgeStore(tmp_path / "idx")
    assert reopened.count() == 4
    reopened.close()
