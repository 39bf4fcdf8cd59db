"""Bounded ingestion: a long document streams through in parts and batches; an oversized one is refused."""

from __future__ import annotations

from core.protocols import SyncBatch
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder

SENTENCE = "Contractors return their badge to reception on the last day of their contract. "


class Recording:
    """Wraps the real chunker and embedder, recording the order of their calls and their sizes."""

    def __init__(self, chunker, embedder):
        self.chunker, self.embedder, self.events = chunker, embedder, []
        self.name, self.signature = chunker.name, chunker.signature
        self.dimension = embedder.dimension

    def split(self, document):
        self.events.append(("chunk", len(document.text)))
        return self.chunker.split(document)

    def embed_documents(self, texts):
        self.events.append(("embed", len(texts)))
        return self.embedder.embed_documents(texts)

    def embed_query(self, text):
        return self.embedder.embed_query(text)


def long_document() -> Document:
    paragraphs = tuple(Section(f"Paragraph {i}. " + SENTENCE * 3, ("Badges",)) for i in range(40))
    return Document("files", "long", "Long", paragraphs)


def test_a_long_document_is_chunked_in_parts_and_written_while_it_is_chunked(tmp_path, embedder):
    store = EdgeStore(tmp_path / "idx")
    chunker = create_chunker("tokens", ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20),
                             model_pieces=embedder.count_word_pieces)
    rec = Recording(chunker, embedder)
    doc = long_document()
    stats = IndexPipeline(store, rec, rec, BM25Encoder(), embed_batch=8, part_chars=2_000).index(
        [SyncBatch(documents=[doc])])
    chunk_calls = [n for kind, n in rec.events if kind == "chunk"]
    assert len(chunk_calls) > 5 and max(chunk_calls) <= 2_000  # never the whole text at once
    assert max(n for kind, n in rec.events if kind == "embed") <= 8
    first_embed = next(i for i, (kind, _) in enumerate(rec.events) if kind == "embed")
    assert first_embed < len(rec.events) - 1 and rec.events[-1][0] == "embed"
    assert any(kind == "chunk" for kind, _ in rec.events[first_embed:])  # written before chunking ended
    # And the chunks read as one document: ordinals 0..n-1, offsets into the whole text.
    text = doc.text
    got = _all_chunks(store, doc.id)
    assert sorted(c.ordinal for c in got) == list(range(stats.chunks_embedded)) == list(range(store.count()))
    assert all(text[c.start_char: c.start_char + len(c.text)] == c.text for c in got)
    store.close()


def test_a_document_over_the_size_limit_fails_and_keeps_its_old_chunks(tmp_path, embedder):
    store = EdgeStore(tmp_path / "idx")
    chunker = create_chunker("tokens", ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20))
    small = Document("files", "grows", "Grows", (Section(SENTENCE * 4),))
    IndexPipeline(store, chunker, embedder, BM25Encoder()).index([SyncBatch(documents=[small])])
    before = store.count("files:grows")
    grown = Document("files", "grows", "Grows", (Section(SENTENCE * 400),))  # ~32,000 characters
    stats = IndexPipeline(store, chunker, embedder, BM25Encoder(), max_document_chars=10_000).index(
        [SyncBatch(documents=[grown])], full_scope=("files:",))
    [failure] = stats.failures
    assert "over the per-document limit" in failure.reason and "KURA_MAX_DOCUMENT_MB" in failure.reason
    assert stats.chunks_embedded == 0 and store.count("files:grows") == before > 0
    store.close()


def _all_chunks(store, doc_id):
    from core.store import HybridQuery

    hits = store.query(HybridQuery(dense=[1.0] + [0.0] * 383, sparse=None, principals=("public",), limit=1000))
    return [h.chunk for h in hits if h.chunk.document_id == doc_id]
