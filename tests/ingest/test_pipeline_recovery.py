"""The pipeline after a crash: half-written documents are redone, changed ones keep serving until replaced."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.errors import ConfigError
from core.protocols import SyncBatch
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder


class Crash(BaseException):
    """Stands in for the process dying (BaseException: nothing in the pipeline catches it)."""


class CrashingEmbedder:
    """The real embedder, dying on its ``crash_on``-th call."""

    def __init__(self, inner, crash_on: int | None = None):
        self.inner, self.crash_on, self.calls = inner, crash_on, 0

    @property
    def dimension(self):
        return self.inner.dimension

    def embed_documents(self, texts):
        self.calls += 1
        if self.calls == self.crash_on:
            raise Crash()
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def doc(i: int, sentence: str, repeat: int) -> Document:
    return Document("files", f"d{i}", f"Doc {i}", (Section(sentence * repeat),))


DOCS = [
    doc(1, "Badges are returned to reception on the last day of a contract. ", 18),
    doc(2, "Visitors sign in at the front desk and wear a guest badge at all times. ", 4),
    doc(3, "来客は受付で記帳し、ゲスト用入館証を常に着用してください。", 3),
]


@pytest.fixture
def chunker(embedder):
    config = ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20)
    return create_chunker("tokens", config, model_pieces=embedder.count_word_pieces)


def pipeline(store, chunker, embedder, **kwargs) -> IndexPipeline:
    return IndexPipeline(store, chunker, embedder, BM25Encoder(), embed_batch=4, **kwargs)


def chunk_ids(store: EdgeStore) -> set[str]:
    ids = set()
    for doc_id in store.document_hashes():
        # Ordinals are dense, so ids are recomputable: fetch them through the chunks' own ids.
        ids.update(c.id for c in _chunks_of(store, doc_id))
    return ids


def _chunks_of(store: EdgeStore, doc_id: str):
    from core.store import HybridQuery

    hits = store.query(HybridQuery(dense=[1.0] + [0.0] * 383, sparse=None, principals=("public",), limit=1000))
    return [h.chunk for h in hits if h.chunk.document_id == doc_id]


def test_a_document_half_written_when_the_run_died_is_redone(tmp_path, chunker, embedder):
    clean = EdgeStore(tmp_path / "clean")
    pipeline(clean, chunker, CrashingEmbedder(embedder)).index([SyncBatch(documents=DOCS)])
    expected = chunk_ids(clean)
    clean.close()

    store = EdgeStore(tmp_path / "crashed")
    assert len(chunker.split(DOCS[0])) > 4  # so the first document needs two embedding batches of 4
    with pytest.raises(Crash):  # dies embedding the first document's second batch
        pipeline(store, chunker, CrashingEmbedder(embedder, crash_on=2)).index([SyncBatch(documents=DOCS)])
    # Half written, and invisible: no chunk counted, found or fetched; known as unfinished.
    assert store.count("files:d1") == 0 and _chunks_of(store, "files:d1") == []
    assert store.document_hashes()["files:d1"] == ""

    again = pipeline(store, chunker, CrashingEmbedder(embedder)).index([SyncBatch(documents=DOCS)])
    assert chunk_ids(store) == expected and store.count() == len(expected)
    assert again.documents_updated >= 1  # the half-written one(s), redone
    assert "" not in store.document_hashes().values()
    # And nothing more to do after that.
    assert pipeline(store, chunker, CrashingEmbedder(embedder)).index([SyncBatch(documents=DOCS)]).chunks_embedded == 0
    store.close()


def test_a_changed_document_keeps_its_old_chunks_until_the_new_ones_land(tmp_path, chunker, embedder):
    store = EdgeStore(tmp_path / "idx")
    pipeline(store, chunker, CrashingEmbedder(embedder)).index([SyncBatch(documents=DOCS)])
    old = store.count("files:d2")
    edited = replace(DOCS[1], sections=(Section("Visitors now register online the day before. " * 4),))
    with pytest.raises(Crash):  # dies while embedding the new version's first batch
        pipeline(store, chunker, CrashingEmbedder(embedder, crash_on=1)).index([SyncBatch(documents=[edited])])
    assert store.count("files:d2") == old  # still answerable from the old version
    stats = pipeline(store, chunker, CrashingEmbedder(embedder)).index([SyncBatch(documents=[edited])])
    assert stats.documents_updated == 1
    assert all("register online" in c.text for c in _chunks_of(store, "files:d2"))
    store.close()


def test_after_batch_runs_once_the_batch_is_written(tmp_path, chunker, embedder):
    store = EdgeStore(tmp_path / "idx")
    committed: list[list[int]] = []

    def commit(batch: SyncBatch, failures) -> None:
        assert failures == []
        committed.append([store.count(d.id) for d in batch.documents])

    batches = [SyncBatch(documents=DOCS[:2]), SyncBatch(documents=DOCS[2:])]
    pipeline(store, chunker, CrashingEmbedder(embedder)).index(batches, after_batch=commit)
    assert len(committed) == 2 and all(n > 0 for counts in committed for n in counts)
    store.close()


class FailingChunker:
    name = "failing"
    signature = "failing/1"

    def __init__(self, error: Exception):
        self.error = error

    def split(self, document):
        raise self.error


def test_chunking_errors_fail_the_document_but_configuration_errors_stop_the_run(tmp_path, embedder):
    store = EdgeStore(tmp_path / "idx")
    stats = pipeline(store, FailingChunker(ValueError("bad table")), embedder).index([SyncBatch(documents=DOCS)])
    assert stats.documents_failed == 3 and "bad table" in stats.failures[0].reason
    with pytest.raises(ConfigError):
        pipeline(store, FailingChunker(ConfigError("rejected key")), embedder).index([SyncBatch(documents=DOCS)])
    store.close()
