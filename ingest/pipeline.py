"""The indexing pipeline: connector batches -> chunk -> embed -> upsert, incremental by content hash.

An unchanged document (same content hash under the same chunking) costs no
chunking, no summary and no embedding. A changed document replaces exactly its
old chunks; a deleted one loses them. Chunks are embedded and written in
bounded batches, so memory stays flat whatever the corpus size.

Crash safety: a changed document's old chunks are deleted just before its new
ones are written, and the ids of documents whose chunks are being written are
kept in the store's metadata (``writing``) until they are complete. A run
killed mid-document leaves them listed, and the next run treats them as
changed, so no half-written document is ever taken for an unchanged one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

import numpy as np

from core.errors import ConfigError
from core.protocols import Chunker, DocumentFailure, Embedder, SparseEncoder, SyncBatch
from core.store import ChunkStore
from core.types import Chunk, Document, content_hash

logger = logging.getLogger(__name__)


@dataclass
class IndexStats:
    """What an indexing run did; ``to_dict`` is the JSON summary cron and the CLI print."""

    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    documents_failed: int = 0
    documents_expected: int = 0  # an estimate for progress and ETA; 0 when unknown
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    failures: list[DocumentFailure] = field(default_factory=list)
    summaries: dict = field(default_factory=dict)  # the LLM summarizer's calls and rejected replies, when one ran

    @property
    def documents_seen(self) -> int:
        return self.documents_added + self.documents_updated + self.documents_unchanged + self.documents_failed

    def to_dict(self) -> dict:
        out = asdict(self)
        out["failures"] = [asdict(f) for f in self.failures]
        return out

    def summary_line(self) -> str:
        return (
            f"{self.documents_added} added, {self.documents_updated} updated, {self.documents_deleted} deleted, "
            f"{self.documents_unchanged} unchanged, {self.documents_failed} failed; "
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
    ) -> None:
        if embed_batch < 1:
            raise ValueError("embed_batch must be >= 1")
        self.store = store
        self.chunker = chunker
        self.embedder = embedder
        self.embed_batch = embed_batch
        self.sparse_encoder = sparse_encoder
        self.embedding_model = embedding_model
        self.on_progress = on_progress
        self._hashes: dict[str, str] | None = None
        self._encoder: SparseEncoder | None = None
        self._pending: list[Chunk] = []
        self._replacing: set[str] = set()  # changed documents whose old chunks go right before their new ones land
        self._writing: list[str] = []  # what the store's ``writing`` metadata says now
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
            self._hashes = self.store.document_hashes()
            interrupted = [d for d in self.store.get_meta().get("writing") or () if d in self._hashes]
            if interrupted:
                logger.info("%d documents were being written when a run stopped; they are indexed again",
                            len(interrupted))
            for doc_id in interrupted:
                self._hashes[doc_id] = ""  # no real hash: counts as changed, so its chunks are replaced
        return self._hashes

    def index(
        self,
        batches: Iterable[SyncBatch],
        *,
        full_scope: Iterable[str] = (),
        after_batch: Callable[[SyncBatch, list[DocumentFailure]], None] | None = None,
        expected_documents: int = 0,
    ) -> IndexStats:
        """Apply connector batches to the store.

        ``full_scope``: document-id prefixes (such as ``"sample:"``) whose batches
        list everything in scope, so an indexed document under such a prefix
        that was not seen is deleted ("" covers every document). It is read
        after the last batch, so a caller may fill it while batches stream.

        ``after_batch(batch, failures)``: called once a batch is fully written
        (its chunks are flushed first), with the batch's failures (its own and
        the documents that failed to chunk), e.g. to commit a connector
        checkpoint that must not claim a failed document.
        """
        stats = IndexStats(documents_expected=expected_documents)
        started = self._started = time.perf_counter()
        seen: set[str] = set()
        known = self._known_hashes()
        for batch in batches:
            failed_before = len(stats.failures)
            self._apply(batch, known, seen, stats)
            if after_batch is not None:
                self._flush_pending(stats)
                after_batch(batch, stats.failures[failed_before:])
            self._report(stats)
        self._flush_pending(stats)
        scoped = tuple(full_scope)
        if scoped:
            gone = [d for d in known if d.startswith(scoped) and d not in seen]
            self._delete(gone, known, stats)
        if stats.chunks_embedded or stats.documents_deleted or stats.documents_updated:
            # Recorded so that anything describing the store's content (a re-index manifest) sees it changed.
            self.store.set_meta({"changed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            self.store.flush()  # a run that changed nothing costs no disk write
        stats.seconds = time.perf_counter() - started
        self._report(stats)
        logger.info("indexing done: %s", stats.summary_line())
        return stats

    def _apply(self, batch: SyncBatch, known: dict[str, str], seen: set[str], stats: IndexStats) -> None:
        stats.failures.extend(batch.failures)
        stats.documents_failed += len(batch.failures)
        for failure in batch.failures:
            # A document we could not read this time keeps its old chunks rather than vanishing.
            seen.add(f"{failure.source}:{failure.source_id}")
        for document in batch.documents:
            seen.add(document.id)
            new_hash = self.document_hash(document)
            old_hash = known.get(document.id)
            if old_hash == new_hash:
                stats.documents_unchanged += 1
                continue
            try:
                chunks = [replace(c, document_hash=new_hash) for c in self.chunker.split(document)]
            except ConfigError:
                raise  # bad settings (a rejected API key, say) fail every document: stop the run
            except Exception as exc:  # one bad document must not stop the run
                logger.warning("chunking failed for %s %s: %s", document.source, document.source_id, exc)
                stats.failures.append(DocumentFailure(document.source, document.source_id, f"chunking failed: {exc}"))
                stats.documents_failed += 1
                continue
            if old_hash is not None:
                if chunks:
                    self._replacing.add(document.id)
                else:
                    self.store.delete_documents([document.id])
                stats.documents_updated += 1
            else:
                stats.documents_added += 1
            known[document.id] = new_hash
            self._pending.extend(chunks)
            if len(self._pending) >= self.embed_batch:
                self._flush_pending(stats)
        self._delete([d for d in batch.deleted_ids if d in known], known, stats)

    def _delete(self, document_ids: list[str], known: dict[str, str], stats: IndexStats) -> None:
        if not document_ids:
            return
        doomed = set(document_ids)
        self._pending = [c for c in self._pending if c.document_id not in doomed]
        self._replacing -= doomed
        self.store.delete_documents(document_ids)
        for doc_id in document_ids:
            known.pop(doc_id, None)
        stats.documents_deleted += len(document_ids)

    def _flush_pending(self, stats: IndexStats) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.embed_batch], self._pending[self.embed_batch :]
            encoder = self._bm25_encoder(batch)
            t0 = time.perf_counter()
            dense = self.embedder.embed_documents([c.index_text for c in batch])
            stats.embed_seconds += time.perf_counter() - t0
            sparse = [encoder.encode_document(c.index_text) for c in batch]
            # Every document with a chunk in this batch or still pending is incomplete until its last chunk lands.
            self._mark_writing({c.document_id for c in batch} | {c.document_id for c in self._pending})
            replaced = sorted({c.document_id for c in batch} & self._replacing)
            if replaced:
                self.store.delete_documents(replaced)
                self._replacing -= set(replaced)
            self.store.upsert(batch, np.asarray(dense), sparse)
            stats.chunks_embedded += len(batch)
            self._report(stats)  # a connector batch can hold thousands of chunks: report within it too
        self._mark_writing(set())

    def _mark_writing(self, document_ids: set[str]) -> None:
        ids = sorted(document_ids)
        if ids != self._writing:
            self.store.set_meta({"writing": ids})
            self._writing = ids

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
