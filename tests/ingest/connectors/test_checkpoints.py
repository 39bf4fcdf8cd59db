"""Checkpoint store: cursor, ledger and failure queue change together, only on commit."""

from __future__ import annotations

from core.protocols import DocumentFailure
from core.types import Document, Section
from ingest.connectors.batching import BatchBuilder
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore, LedgerEntry


def doc(source_id: str) -> Document:
    return Document("src", source_id, source_id, (Section("text"),))


def test_commit_records_ledger_cursor_failures_and_deletions(tmp_path):
    store = CheckpointStore.in_state_dir(tmp_path)
    store.commit(CheckpointedBatch(documents=[doc("a"), doc("b")], source="src", cursor={"since": "t1"},
                                   ledger={"src:a": LedgerEntry("v1", "S"), "src:b": LedgerEntry("v1", "S")},
                                   failures=[DocumentFailure("src", "c", "HTTP 500")]))
    assert store.cursor("src") == {"since": "t1"}
    assert store.ledger("src") == {"src:a": LedgerEntry("v1", "S"), "src:b": LedgerEntry("v1", "S")}
    assert store.failures("src") == {"src:c": "HTTP 500"}

    store.commit(CheckpointedBatch(documents=[doc("c")], deleted_ids=["src:a"], source="src",
                                   ledger={"src:c": LedgerEntry("v2")}))
    assert set(store.ledger("src")) == {"src:b", "src:c"}
    assert store.failures("src") == {}
    assert store.cursor("src") == {"since": "t1"}  # no cursor in the batch: unchanged


def test_state_survives_reopening_and_sources_are_separate(tmp_path):
    CheckpointStore.in_state_dir(tmp_path).commit(CheckpointedBatch(source="a", cursor={"x": 1}))
    reopened = CheckpointStore.in_state_dir(tmp_path)
    assert reopened.cursor("a") == {"x": 1}
    assert reopened.cursor("b") == {}
    reopened.reset("a")
    assert reopened.cursor("a") == {}


def test_builder_cuts_batches_and_carries_the_latest_cursor_once(tmp_path):
    builder = BatchBuilder("src", size=2, cursor={"n": 0})
    builder.advance({"n": 1})
    assert builder.add(doc("a"), LedgerEntry("1")) is None
    builder.advance({"n": 2})
    full = builder.add(doc("b"), LedgerEntry("1"))
    assert [d.id for d in full.documents] == ["src:a", "src:b"] and full.cursor == {"n": 2}
    builder.advance({"n": 2})
    assert builder.take() is None  # nothing new to record
    state = {"channels": {"C1": 1}}
    builder.advance(state)
    state["channels"]["C2"] = 2  # the caller keeps mutating its dict
    assert builder.take().cursor == {"channels": {"C1": 1}}
