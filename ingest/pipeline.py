"""The indexing pipeline: connector batches -> chunk -> embed -> upsert, incremental by content hash.

An unchanged document (same content hash under the same chunking) costs no
chunking, no summary and no embedding. A changed document replaces exactly its
old chunks; a deleted one loses them.

Bounded memory. Chunks flow through one buffer (``_pending``): a document is
chunked part by part (``ingest/parts.py``: at most ``PART_CHARS`` characters of
text at a time), each chunk is appended to the buffer, and whenever the buffer
holds ``embed_batch`` chunks they are embedded and written. So at any time the
pipeline holds one connector batch of documents, at most one part's chunks and
``1 + embed_ahead`` embedding batches, whatever a document's size. Small documents share
embedding batches. A document over ``max_document_chars`` is not chunked at all
(a failure with a message naming ``KURA_MAX_DOCUMENT_MB``).

Overlap. A full batch is embedded on one worker thread while this thread goes
on chunking the next documents (``embed_ahead`` batches may wait for their
vectors; 0 embeds in this thread). The compiled runtimes and tokenizers release
the GIL, so on 2 cores the embedder's threads and the chunker share the CPU
instead of taking turns. Every store operation stays in this thread and in
order: a batch is written (staged) when its vectors come back, oldest first, and
a document is published only when none of its chunks is buffered or still being
embedded. An error in either stage surfaces here: a chunking error fails its
document (as before), an embedding or store error stops the run after the
worker has stopped, with nothing half published (see below).

Crash safety: a document is visible only when all its chunks are. Its chunks
are written *staged* (invisible to every read path, see core/store.py) and the
document is published - one store operation - once its last chunk is written.
Its old version is deleted right before the first staged batch is written (the
new chunks may reuse old chunk ids), so from then until publication the
document is absent rather than half there; a run killed at any point leaves
old complete versions, absent documents and invisible staged chunks only. The
next run sees the staged ones as unfinished (hash "") and rewrites them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

import numpy as np

from core.errors import ConfigError
from core.protocols import Chunker, DocumentFailure, Embedder, SparseEncoder, SyncBatch
from core.store import ChunkStore
from core.types import Chunk, Document, content_hash
from ingest.parts import PART_CHARS, document_parts, text_length

logger = logging.getLogger(__name__)

# Batches that may wait for their vectors while chunking goes on; each holds ``embed_batch`` chunks in memory.
# 0 (embed inline) by default: on a quiet 2-core machine overlapping gained 2.6% (bench/ingest.py, 23.2 vs 23.8
# chunks/s; embedding is 91-98% of the time) and an interrupted run loses the batch in flight.
EMBED_AHEAD = 0


@dataclass
class IndexStats:
    """What an indexing run did; ``to_dict`` is the JSON summary cron and the CLI print."""

    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    documents_failed: int = 0
    documents_skipped: int = 0  # left out on purpose: links, special files, documents without text
    documents_expected: int = 0  # an estimate for progress and ETA; 0 when unknown
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    failures: list[DocumentFailure] = field(default_factory=list)
    summaries: dict = field(default_factory=dict)  # the LLM summarizer's calls and rejected replies, when one ran
    skipped: list[DocumentFailure] = field(default_factory=list)

    @property
    def documents_seen(self) -> int:
        return self.documents_added + self.documents_updated + self.documents_unchanged + self.documents_failed

    def to_dict(self) -> dict:
        out = asdict(self)
        out["failures"] = [asdict(f) for f in self.failures]
        out["skipped"] = [asdict(f) for f in self.skipped]
        return out

    def summary_line(self) -> str:
        return (
            f"{self.documents_added} added, {self.documents_updated} updated, {self.documents_deleted} deleted, "
            f"{self.documents_unchanged} unchanged, {self.documents_failed} failed"
            f"{f', {self.documents_skipped} skipped' if self.documents_skipped else ''}; "
            f"{self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"
        ) + self._summaries_note()

    def _summaries_note(self) -> str:
        rejected = self.summaries.get("rejected")
        return f"; {rejected} LLM summaries rejected (offline summary used)" if rejected else ""


class IndexPipeline:
    """Keeps a store in step with the documents connectors emit."""

    def __init__(
        self,
        store: ChunkStore,
        chunker: Chunker,
        embedder: Embedder,
        sparse_encoder: SparseEncoder,
        *,
        embed_batch: int = 128,
        embedding_model: str = "",
        on_progress: Callable[[IndexStats], None] | None = None,
        max_document_chars: int = 0,
        part_chars: int = PART_CHARS,
        embed_ahead: int | None = None,
    ) -> None:
        if embed_batch < 1:
            raise ValueError("embed_batch must be >= 1")
        embed_ahead = EMBED_AHEAD if embed_ahead is None else embed_ahead
        if embed_ahead < 0:
            raise ValueError("embed_ahead must be >= 0")
        if part_chars < 1000:
            raise ValueError("part_chars must be >= 1000")
        self.store = store
        self.chunker = chunker
        self.embedder = embedder
        self.embed_batch = embed_batch
        self.sparse_encoder = sparse_encoder
        self.embedding_model = embedding_model
        self.on_progress = on_progress
        self._hashes: dict[str, str] | None = None
        self._encoder: SparseEncoder | None = None
        self.max_document_chars = max_document_chars  # 0: no limit
        self.part_chars = part_chars
        self.embed_ahead = embed_ahead
        self._pending: list[Chunk] = []
        # Batches handed to the embedding thread, oldest first: (chunks, their BM25 vectors, their dense vectors' future).
        self._in_flight: deque[tuple[list[Chunk], list, Future]] = deque()
        self._embedding_thread: ThreadPoolExecutor | None = None
        self._replacing: set[str] = set()  # changed documents whose old chunks go right before their new ones land
        self._staged: set[str] = set()  # documents with staged chunks in the store this run
        self._chunked: dict[str, tuple[str, ...]] = {}  # fully chunked, not yet published: id -> principals
        self._legacy_writing = False
        self._started = time.perf_counter()

    @property
    def chunker_signature(self) -> str:
        return getattr(self.chunker, "signature", getattr(self.chunker, "name", "chunker"))

    def document_hash(self, document: Document) -> str:
        """Content hash under this chunking: a new strategy or size re-chunks every document."""
        return content_hash(f"{document.content_hash}|{self.chunker_signature}")

    def _known_hashes(self) -> dict[str, str]:
        if self._hashes is None:
            self.store.ensure_collection(self.embedder.dimension)
            self._hashes = self.store.document_hashes()  # unfinished (staged) documents come with hash ""
            # Versions before staged writes listed half-written documents in the metadata instead.
            writing = self.store.get_meta().get("writing") or ()
            self._legacy_writing = bool(writing)
            interrupted = [d for d in writing if d in self._hashes] + [d for d, h in self._hashes.items() if h == ""]
            if interrupted:
                logger.info("%d documents were being written when a run stopped; they are indexed again",
                            len(set(interrupted)))
            for doc_id in interrupted:
                self._hashes[doc_id] = ""  # no real hash: counts as changed, so its chunks are replaced
        return self._hashes

    def index(
        self,
        batches: Iterable[SyncBatch],
        *,
        full_scope: Iterable[str] = (),
        scope_families: Iterable[str] = (),
        after_batch: Callable[[SyncBatch, list[DocumentFailure]], None] | None = None,
        expected_documents: int = 0,
    ) -> IndexStats:
        """Apply connector batches to the store.

        ``full_scope``: document-id prefixes (such as ``"sample:"``) whose batches
        list everything in scope, so an indexed document under such a prefix
        that was not seen is deleted ("" covers every document). It is read
        after the last batch, so a caller may fill it while batches stream.
        A failure whose id ends in "/" (a folder that could not be read) keeps
        every document under it.

        ``scope_families``: id prefixes (``"files:"``) whose documents must all
        lie in some full scope ever listed into this index (recorded in its
        metadata, ``scopes``); one outside all of them is deleted. Read after
        the last batch too.

        ``after_batch(batch, failures)``: called once a batch is fully written
        (its chunks are flushed first), with the batch's failures (its own and
        the documents that failed to chunk), e.g. to commit a connector
        checkpoint that must not claim a failed document.
        """
        stats = IndexStats(documents_expected=expected_documents)
        started = self._started = time.perf_counter()
        seen: set[str] = set()
        kept: set[str] = set()  # prefixes of folders that could not be read: what is under them stays
        known = self._known_hashes()
        try:
            for batch in batches:
                failed_before = len(stats.failures)
                self._apply(batch, known, seen, kept, stats)
                if after_batch is not None:
                    self._flush_pending(stats)
                    after_batch(batch, stats.failures[failed_before:])
                self._report(stats)
            self._flush_pending(stats)
        finally:
            self._stop_embedding()
        scoped = tuple(full_scope)
        if scoped:
            gone = [d for d in known if d.startswith(scoped) and d not in seen and not d.startswith(tuple(kept))]
            self._delete(gone, known, stats)
        self._delete_strays(tuple(scope_families), scoped, known, stats)
        if self._legacy_writing:
            self.store.set_meta({"writing": []})  # what it listed has been rewritten (or deleted) above
        if stats.chunks_embedded or stats.documents_deleted or stats.documents_updated:
            # Recorded so that anything describing the store's content (a re-index manifest) sees it changed.
            self.store.set_meta({"changed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            self.store.flush()  # a run that changed nothing costs no disk write
        stats.seconds = time.perf_counter() - started
        self._report(stats)
        logger.info("indexing done: %s", stats.summary_line())
        return stats

    def _apply(self, batch: SyncBatch, known: dict[str, str], seen: set[str], kept: set[str],
               stats: IndexStats) -> None:
        stats.failures.extend(batch.failures)
        stats.documents_failed += len(batch.failures)
        stats.skipped.extend(batch.skipped)
        stats.documents_skipped += len(batch.skipped)
        for failure in batch.failures:
            # A document we could not read this time keeps its old chunks rather than vanishing.
            seen.add(f"{failure.source}:{failure.source_id}")
            if failure.source_id.endswith("/"):
                kept.add(f"{failure.source}:{failure.source_id}")
        for document in batch.documents:
            seen.add(document.id)
            new_hash = self.document_hash(document)
            old_hash = known.get(document.id)
            if old_hash == new_hash:
                stats.documents_unchanged += 1
                continue
            size = text_length(document)
            if self.max_document_chars and size > self.max_document_chars:
                limit = self.max_document_chars / 1e6
                self._fail(stats, document, f"text is {size / 1e6:.1f} M characters, over the per-document limit "
                                            f"of {limit:.1f} M (KURA_MAX_DOCUMENT_MB); not indexed")
                continue
            written = self._write(document, new_hash, old_hash is not None, stats)
            if written is None:
                continue
            if not written:  # no chunk at all: nothing to search
                if old_hash is not None:
                    self._delete([document.id], known, stats)
                else:
                    stats.skipped.append(DocumentFailure(document.source, document.source_id, "no text to index"))
                    stats.documents_skipped += 1
                continue
            if old_hash is not None:
                stats.documents_updated += 1
            else:
                stats.documents_added += 1
            known[document.id] = new_hash
            self._publish_ready()
        self._delete([d for d in batch.deleted_ids if d in known], known, stats)

    def _write(self, document: Document, document_hash: str, replacing: bool, stats: IndexStats) -> int | None:
        """Chunk ``document`` part by part into the buffer, writing full batches as they fill.

        Returns the number of chunks, or None when chunking failed (reported as a failure).
        """
        count = 0
        chunks = self._chunks(document, document_hash)
        while True:
            try:
                chunk = next(chunks, None)
            except ConfigError:
                raise  # bad settings (a rejected API key, say) fail every document: stop the run
            except Exception as exc:  # one bad document must not stop the run
                logger.warning("chunking failed for %s %s: %s", document.source, document.source_id, exc)
                self._abandon(document.id, stats)
                self._fail(stats, document, f"chunking failed: {exc}")
                return None
            if chunk is None:
                break
            if replacing and not count:
                self._replacing.add(document.id)
            self._pending.append(chunk)
            count += 1
            if len(self._pending) >= self.embed_batch:
                # Outside the try: an embedding or store error is not this document's fault and stops the run
                # (a batch holds other documents' chunks too: failing only this one would publish them short).
                self._flush_pending(stats, whole_batches=True)
        if count:
            self._chunked[document.id] = document.principals
        return count

    def _chunks(self, document: Document, document_hash: str) -> Iterator[Chunk]:
        """The document's chunks, one part at a time, numbered and placed as if chunked whole."""
        ordinal = 0
        for offset, part in document_parts(document, self.part_chars):
            chunks = self.chunker.split(part)
            for c in chunks:
                yield replace(c, ordinal=ordinal + c.ordinal, document_hash=document_hash,
                              start_char=c.start_char + offset if c.start_char >= 0 else -1)
            ordinal += len(chunks)

    def _abandon(self, document_id: str, stats: IndexStats) -> None:
        """Forget a document that failed half way: its buffered chunks go, and so do any staged ones."""
        self._write_in_flight(stats)  # its batches still being embedded land first, so the delete below sees them
        self._pending = [c for c in self._pending if c.document_id != document_id]
        self._replacing.discard(document_id)
        self._chunked.pop(document_id, None)
        if document_id in self._staged:  # its old version is gone already: leave no invisible leftovers either
            self.store.delete_documents([document_id])
            self._staged.discard(document_id)

    @staticmethod
    def _fail(stats: IndexStats, document: Document, reason: str) -> None:
        stats.failures.append(DocumentFailure(document.source, document.source_id, reason))
        stats.documents_failed += 1

    def _delete(self, document_ids: list[str], known: dict[str, str], stats: IndexStats) -> None:
        if not document_ids:
            return
        doomed = set(document_ids)
        self._write_in_flight(stats)  # a doomed document's batches being embedded must not be written after its delete
        self._pending = [c for c in self._pending if c.document_id not in doomed]
        self._replacing -= doomed
        self._staged -= doomed
        for doc_id in doomed:
            self._chunked.pop(doc_id, None)
        self.store.delete_documents(document_ids)
        for doc_id in document_ids:
            known.pop(doc_id, None)
        stats.documents_deleted += len(document_ids)

    def _delete_strays(self, families: tuple[str, ...], scoped: tuple[str, ...], known: dict[str, str],
                       stats: IndexStats) -> None:
        """Documents of a scoped family that lie outside every scope recorded for it (see ``index``)."""
        if not families:
            return
        recorded: dict[str, list[str]] = dict(self.store.get_meta().get("scopes") or {})
        changed = False
        for family in families:
            listed = sorted(p for p in scoped if p.startswith(family) and p != family)
            if not listed:
                continue  # the source did not list everything this time: no evidence to delete on
            scopes = sorted(set(recorded.get(family, [])) | set(listed))
            if scopes != recorded.get(family):
                recorded[family], changed = scopes, True
            strays = [d for d in known if d.startswith(family) and not d.startswith(tuple(scopes))]
            if strays:
                logger.warning("removing %d %s documents outside every folder indexed, e.g. %s",
                               len(strays), family, strays[0])
                self._delete(strays, known, stats)
        if changed:
            self.store.set_meta({"scopes": recorded})

    def _flush_pending(self, stats: IndexStats, *, whole_batches: bool = False) -> None:
        """Hand buffered chunks to the embedder in batches; unless ``whole_batches``, wait until all are written."""
        while self._pending and (len(self._pending) >= self.embed_batch or not whole_batches):
            batch, self._pending = self._pending[: self.embed_batch], self._pending[self.embed_batch :]
            encoder = self._bm25_encoder(batch)
            texts = [c.index_text for c in batch]
            if not self.embed_ahead:
                dense, seconds = _embed_timed(self.embedder, texts)
                sparse = [encoder.encode_document(t) for t in texts]
                self._write_batch(batch, dense, sparse, seconds, stats)
                continue
            future = self._embedder_thread().submit(_embed_timed, self.embedder, texts)
            # BM25 here, while the batch embeds: a share of this thread's work overlapped as well.
            self._in_flight.append((batch, [encoder.encode_document(t) for t in texts], future))
            while len(self._in_flight) > self.embed_ahead:
                self._write_oldest(stats)
        if not whole_batches:
            self._write_in_flight(stats)

    def _embedder_thread(self) -> ThreadPoolExecutor:
        if self._embedding_thread is None:
            # One worker: batches are embedded in the order they were handed over.
            self._embedding_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kura-embed")
        return self._embedding_thread

    def _write_oldest(self, stats: IndexStats) -> None:
        batch, sparse, future = self._in_flight[0]
        dense, seconds = future.result()  # an embedding error is raised here, in the indexing thread
        self._in_flight.popleft()
        self._write_batch(batch, dense, sparse, seconds, stats)

    def _write_in_flight(self, stats: IndexStats) -> None:
        while self._in_flight:
            self._write_oldest(stats)

    def _stop_embedding(self) -> None:
        """End the worker. After an error, batches not yet written are dropped: their documents stay unpublished."""
        self._in_flight.clear()
        if self._embedding_thread is not None:
            self._embedding_thread.shutdown(wait=True, cancel_futures=True)
            self._embedding_thread = None

    def _write_batch(self, batch: list[Chunk], dense, sparse: list, seconds: float, stats: IndexStats) -> None:
        """Write one embedded batch (staged), then publish the documents whose last chunk is now in."""
        stats.embed_seconds += seconds
        in_batch = {c.document_id for c in batch}
        # A changed document's old chunks (and any staged leftovers of a killed run) go right before its first
        # new batch: until it is published it is then absent, never a mix of versions.
        replaced = sorted(in_batch & self._replacing)
        if replaced:
            self.store.delete_documents(replaced)
            self._replacing -= set(replaced)
        self.store.upsert(batch, np.asarray(dense), sparse, staged=True)
        self._staged |= in_batch
        stats.chunks_embedded += len(batch)
        self._publish_ready()
        self._report(stats)  # a connector batch can hold thousands of chunks: report within it too

    def _publish_ready(self) -> None:
        """Publish every fully chunked document none of whose chunks is still buffered."""
        buffered = {c.document_id for c in self._pending}
        buffered.update(c.document_id for batch, _, _ in self._in_flight for c in batch)
        ready: dict[tuple[str, ...], list[str]] = {}
        for doc_id, principals in list(self._chunked.items()):
            if doc_id not in buffered:
                ready.setdefault(tuple(principals), []).append(doc_id)
                del self._chunked[doc_id]
        for principals, doc_ids in ready.items():  # documents with the same access: one operation
            self.store.publish(doc_ids, principals)
            self._staged -= set(doc_ids)

    def _bm25_encoder(self, first_batch: list[Chunk]) -> SparseEncoder:
        """BM25 length normalisation uses the corpus's average chunk length, fixed when the index is first built."""
        if self._encoder is None:
            meta = self.store.get_meta()
            avg_len = meta.get("bm25_avg_len")
            if not avg_len:
                lengths = [self.sparse_encoder.term_count(c.index_text) for c in first_batch]
                avg_len = max(1.0, sum(lengths) / max(1, len(lengths)))
                self.store.set_meta(
                    {
                        "bm25_avg_len": avg_len,
                        "embedding_model": self.embedding_model,
                        "chunker": self.chunker_signature,
                        "chunk_strategy": getattr(self.chunker, "name", ""),
                    }
                )
            self._encoder = self.sparse_encoder.with_avg_len(float(avg_len))
        return self._encoder

    def _report(self, stats: IndexStats) -> None:
        if self.on_progress is not None:
            stats.seconds = time.perf_counter() - self._started
            self.on_progress(stats)


def _embed_timed(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors of ``texts`` and the seconds they took (run in the embedding thread, or inline)."""
    started = time.perf_counter()
    dense = embedder.embed_documents(texts)
    return dense, time.perf_counter() - started
