"""Embedding overlapped with chunking: the next documents are chunked while a batch embeds on the worker thread.

Errors of either stage reach the indexing thread, the worker is stopped, and
the index is left as after a crash: every visible document complete, the rest
unfinished (invisible), and the next run completes it.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from core.protocols import SyncBatch
from core.store import HybridQuery
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder

SENTENCES = [
    "Badges are returned to reception on the last day of a contract. ",
    "Visitors sign in at the front desk and wear a guest badge at all times. ",
    "Expense reports over 50,000 yen need a department head's approval. ",
    "来客は受付で記帳し、ゲスト用入館証を常に着用してください。",
]


def corpus(n: int = 9) -> list[Document]:
    """Documents of one to several chunks each, so batches of 4 mix documents."""
    return [Document("files", f"d{i}", f"Doc {i}", (Section(SENTENCES[i % 4] * (2 + 5 * (i % 3))),)) for i in range(n)]


@pytest.fixture
def chunker(embedder):
    return create_chunker("tokens", ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20),
                          model_pieces=embedder.count_word_pieces)


def pipeline(store, chunker, embedder, **kwargs) -> IndexPipeline:
    return IndexPipeline(store, chunker, embedder, BM25Encoder(), embed_batch=4, **kwargs)


def visible(store: EdgeStore) -> Counter:
    """Chunks per document that a reader can find."""
    hits = store.query(HybridQuery(dense=[1.0] + [0.0] * 383, sparse=None, principals=("public",), limit=10_000))
    return Counter(h.chunk.document_id for h in hits)


def serial_index(tmp_path, chunker, embedder) -> Counter:
    store = EdgeStore(tmp_path / "serial")
    pipeline(store, chunker, embedder, embed_ahead=0).index([SyncBatch(documents=corpus())])
    expected = visible(store)
    store.close()
    return expected


def assert_consistent(store: EdgeStore, expected: Counter) -> None:
    """Each visible document has all its chunks; the others are absent or known as unfinished (hash "")."""
    seen = visible(store)
    for doc_id, n in seen.items():
        assert n == expected[doc_id], f"{doc_id} is half visible: {n} of {expected[doc_id]} chunks"
    hashes = store.document_hashes()
    for doc_id in set(expected) - set(seen):
        assert hashes.get(doc_id, "") == ""


def no_embedding_thread() -> bool:
    return not any(t.name.startswith("kura-embed") for t in threading.enumerate())


class Embedder:
    """The real embedder, with hooks: fail on call ``fail_on``, or wait on ``gate`` during the first call."""

    def __init__(self, inner, *, fail_on: int | None = None, gate: threading.Event | None = None,
                 hold: threading.Event | None = None):
        self.inner, self.fail_on, self.gate, self.hold = inner, fail_on, gate, hold
        self.calls, self.threads, self.gate_opened = 0, set(), None
        self.in_first_call = threading.Event()
        self.dimension = inner.dimension

    def embed_documents(self, texts):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls == self.fail_on:
            raise RuntimeError("the model ran out of memory")
        if self.hold is not None and self.calls == 1:
            self.hold.wait(timeout=5)
        if self.gate is not None and self.calls == 1:
            self.in_first_call.set()
            self.gate_opened = self.gate.wait(timeout=5)  # opens only if chunking goes on meanwhile
            self.in_first_call.clear()
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


class Chunker:
    """The real chunker, opening ``gate`` when it chunks while ``embedding`` is set; failing on ``fail_at``'s 2nd part."""

    def __init__(self, inner, *, gate=None, embedding: threading.Event | None = None, fail_at: str = ""):
        self.inner, self.gate, self.embedding, self.fail_at = inner, gate, embedding, fail_at
        self.name, self.signature = inner.name, inner.signature
        self.parts: Counter = Counter()

    def split(self, document):
        self.parts[document.id] += 1
        if self.embedding is not None and self.embedding.is_set():
            self.gate.set()
        if document.id == self.fail_at and self.parts[document.id] == 2:
            raise ValueError("a table the parser cannot read")
        return self.inner.split(document)


def test_the_next_documents_are_chunked_while_a_batch_embeds(tmp_path, chunker, embedder):
    expected = serial_index(tmp_path, chunker, embedder)
    gate = threading.Event()
    docs = corpus()
    # The first embedding call waits until a document is chunked while it runs.
    recording = Embedder(embedder, gate=gate)
    store = EdgeStore(tmp_path / "idx")
    stats = pipeline(store, Chunker(chunker, gate=gate, embedding=recording.in_first_call), recording, embed_ahead=1).index(
        [SyncBatch(documents=docs)])
    assert recording.gate_opened is True  # serial embedding would wait here until the timeout
    assert threading.main_thread().name not in recording.threads
    assert visible(store) == expected and stats.chunks_embedded == sum(expected.values())
    assert no_embedding_thread()
    store.close()


@pytest.mark.parametrize("embed_ahead", [2, 0])
def test_an_embedding_error_reaches_the_indexing_thread_and_the_index_stays_consistent(tmp_path, chunker, embedder,
                                                                                        embed_ahead):
    # Inline (0) too: an embedding error used to be taken for the current document's chunking error, and the lost
    # batch's other documents were then published short.
    expected = serial_index(tmp_path, chunker, embedder)
    store = EdgeStore(tmp_path / "idx")
    failing = Embedder(embedder, fail_on=3)
    with pytest.raises(RuntimeError, match="ran out of memory"):
        pipeline(store, chunker, failing, embed_ahead=embed_ahead).index([SyncBatch(documents=corpus())])
    if embed_ahead:
        assert failing.threads and threading.main_thread().name not in failing.threads  # raised in the worker
    assert no_embedding_thread()
    seen = visible(store)
    assert 0 < sum(seen.values()) < sum(expected.values())  # stopped part way
    assert_consistent(store, expected)
    again = pipeline(store, chunker, Embedder(embedder)).index([SyncBatch(documents=corpus())])
    assert visible(store) == expected and again.documents_failed == 0
    assert "" not in store.document_hashes().values()
    store.close()


def test_a_chunking_error_fails_its_document_only_and_leaves_nothing_of_it(tmp_path, chunker, embedder):
    # A long document chunked in parts: its first part's chunks are embedded (some written staged) when its
    # second part fails to chunk.
    long = Document("files", "long", "Long", tuple(Section(SENTENCES[0] * 12) for _ in range(8)))
    docs = [*corpus(4), long, *corpus(9)[4:]]
    store = EdgeStore(tmp_path / "idx")
    stats = IndexPipeline(store, Chunker(chunker, fail_at=long.id), embedder, BM25Encoder(), embed_batch=4,
                          part_chars=1000, embed_ahead=2).index([SyncBatch(documents=docs)])
    assert stats.documents_failed == 1 and "cannot read" in stats.failures[0].reason
    assert "files:long" not in store.document_hashes()  # no staged leftovers either
    assert visible(store) == serial_index(tmp_path, chunker, embedder)
    assert no_embedding_thread()
    store.close()


def test_a_document_deleted_while_its_batches_embed_leaves_nothing_behind(tmp_path, chunker, embedder):
    docs = corpus()
    gone = docs[0].id
    hold = threading.Event()  # the first batch (the first document's chunks) embeds only once the deletion comes

    def batches():
        yield SyncBatch(documents=docs)
        hold.set()
        yield SyncBatch(deleted_ids=[gone])

    store = EdgeStore(tmp_path / "idx")
    stats = pipeline(store, chunker, Embedder(embedder, hold=hold), embed_ahead=10).index(batches())
    assert stats.documents_deleted == 1
    assert gone not in store.document_hashes()  # neither published nor left staged
    expected = serial_index(tmp_path, chunker, embedder)
    del expected[gone]
    assert visible(store) == expected
    store.close()


def test_a_store_error_while_batches_embed_stops_the_run_and_the_worker(tmp_path, chunker, embedder):
    expected = serial_index(tmp_path, chunker, embedder)
    store = EdgeStore(tmp_path / "idx")
    real_upsert, writes = store.upsert, []

    def upsert(*args, **kwargs):
        writes.append(1)
        if len(writes) == 2:
            raise OSError("disk full")
        return real_upsert(*args, **kwargs)

    store.upsert = upsert
    with pytest.raises(OSError, match="disk full"):
        pipeline(store, chunker, Embedder(embedder), embed_ahead=2).index([SyncBatch(documents=corpus())])
    assert no_embedding_thread()
    assert_consistent(store, expected)
    store.upsert = real_upsert
    pipeline(store, chunker, Embedder(embedder)).index([SyncBatch(documents=corpus())])
    assert visible(store) == expected
    store.close()


def test_chunks_waiting_for_vectors_stay_bounded(tmp_path, chunker, embedder):
    store = EdgeStore(tmp_path / "idx")
    made, written, most = [0], [0], [0]

    class Counting:
        name, signature = chunker.name, chunker.signature

        def split(self, document):
            chunks = chunker.split(document)
            made[0] += len(chunks)
            most[0] = max(most[0], made[0] - written[0])
            return chunks

    real_upsert = store.upsert

    def upsert(chunks, *args, **kwargs):
        written[0] += len(chunks)
        return real_upsert(chunks, *args, **kwargs)

    store.upsert = upsert
    docs = corpus(40)
    pipeline(store, Counting(), Embedder(embedder), embed_ahead=1).index([SyncBatch(documents=docs)])
    biggest_document = max(len(chunker.split(d)) for d in docs)
    # When a document is chunked: at most one batch with the embedder (the next one waits for it to be written),
    # a batch filling (under 4), and the document's own chunks.
    assert most[0] <= 4 + 3 + biggest_document
    assert written[0] == made[0]
    store.close()
