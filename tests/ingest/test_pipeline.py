"""Incremental indexing: unchanged documents cost nothing, changes replace exactly, deletions remove."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.protocols import DocumentFailure, SyncBatch
from core.store import HybridQuery
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder


def document(i: int, text: str, principals=("public",)) -> Document:
    return Document(source="sample", source_id=str(i), title=f"Doc {i}", sections=(Section(text),), principals=principals)


DOCS = [
    document(1, "The VPN client Hoshi Connect 4.2 is required on every laptop. " * 30),
    document(2, "Expense reports over 50,000 yen need a department head's approval. " * 12),
    document(3, "経費精算申請書は30日以内に提出してください。" * 20),
]


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.texts = 0

    @property
    def dimension(self):
        return self.inner.dimension

    def embed_documents(self, texts):
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture
def make_pipeline(tmp_path, embedder):
    store = EdgeStore(tmp_path / "idx")
    counting = CountingEmbedder(embedder)
    chunker = create_chunker("tokens", ChunkingConfig(chunk_tokens=100, overlap_tokens=10, min_tokens=30),
                             model_pieces=embedder.count_word_pieces)

    def build(embed_batch: int = 16) -> IndexPipeline:
        return IndexPipeline(store, chunker, counting, BM25Encoder(), embed_batch=embed_batch)

    yield build, store, counting
    store.close()


def test_second_run_without_changes_embeds_nothing(make_pipeline):
    build, store, counting = make_pipeline
    first = build().index([SyncBatch(documents=DOCS)])
    assert first.documents_added == 3 and first.chunks_embedded == store.count() > 3
    embedded = counting.texts
    second = build().index([SyncBatch(documents=DOCS)])
    assert second.documents_unchanged == 3 and second.chunks_embedded == 0
    assert counting.texts == embedded  # not one text re-embedded
    assert store.count() == first.chunks_embedded


def test_changed_document_replaces_exactly_its_chunks(make_pipeline):
    build, store, _ = make_pipeline
    build().index([SyncBatch(documents=DOCS)])
    before_other = store.count("sample:2")
    edited = replace(DOCS[0], sections=(Section("The VPN client was retired; use the zero-trust agent instead."),))
    stats = build().index([SyncBatch(documents=[edited])])
    assert stats.documents_updated == 1
    assert store.count("sample:1") == 1
    assert store.count("sample:2") == before_other
    # A permission change alone is a change too: the chunks carry principals.
    restricted = replace(edited, principals=("group:it",))
    assert build().index([SyncBatch(documents=[restricted])]).documents_updated == 1
    sparse = BM25Encoder().encode_query("zero-trust agent")
    assert store.query(HybridQuery(dense=None, sparse=sparse, principals=("public",))) == []
    hits = store.query(HybridQuery(dense=None, sparse=sparse, principals=("group:it",)))
    assert [h.chunk.principals for h in hits] == [("group:it",)]


def test_deletions_and_full_scope(make_pipeline):
    build, store, _ = make_pipeline
    build().index([SyncBatch(documents=DOCS)])
    stats = build().index([SyncBatch(deleted_ids=["sample:2", "sample:999"])])
    assert stats.documents_deleted == 1 and store.count("sample:2") == 0
    # A full listing without doc 3 removes it; a failed document keeps its old chunks.
    stats = build().index(
        [SyncBatch(documents=[DOCS[0]], failures=[DocumentFailure("sample", "1", "timeout")])], full_scope=["sample:"]
    )
    assert store.count("sample:3") == 0 and store.count("sample:1") > 0
    assert stats.documents_failed == 1 and stats.failures[0].reason == "timeout"


def test_memory_stays_bounded_by_embed_batches(make_pipeline):
    build, store, counting = make_pipeline
    pipeline = build(embed_batch=4)
    calls = []
    original = counting.embed_documents
    counting.embed_documents = lambda texts: calls.append(len(texts)) or original(texts)
    pipeline.index([SyncBatch(documents=DOCS)])
    assert max(calls) <= 4 and sum(calls) == store.count()
