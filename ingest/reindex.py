"""The re-index job behind ``kura reindex``: incremental sync or full rebuild, switched atomically.

Incremental (the default): every source's changes go into the index; an
unchanged document costs a hash comparison. The embedded store cannot be
written while the web app holds it open, so the job copies it, updates the
copy and switches to it (and throws the copy away when nothing changed); a
Qdrant server collection is updated in place.

Full (``full=True``): every source's documents go into a new generation (new
store directory or collection), with any chunking strategy; the serving index
keeps serving until the new one has passed its checks (reindex_check.py), then
one atomic switch (CURRENT pointer / collection alias) makes it serve and the
old one is removed.

Crash safety: the generation being built is recorded in a small state file
before anything is written to it. A killed run leaves the serving index
untouched; the next run resumes the recorded build (unchanged documents in it
are skipped by content hash, half-written ones redone, see pipeline.py) or,
with ``clean=True`` or a different ``--strategy``, discards it and starts clean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from core.protocols import DocumentFailure, SyncBatch
from core.store import ChunkStore
from ingest.cow_store import CopyOnWriteStore
from ingest.generations import IndexGenerations
from ingest.pipeline import IndexPipeline, IndexStats
from ingest.reindex_check import CheckResult, QualityGate, SourceListing, check_index
from ingest.reindex_records import IndexSource, PendingBuild, ReindexResult

__all__ = ["IndexSource", "ReindexJob", "ReindexResult"]

logger = logging.getLogger(__name__)


class ReindexJob:
    """Runs the sources through a pipeline into the right generation and switches when it passes its checks."""

    def __init__(
        self,
        generations: IndexGenerations,
        sources: list[IndexSource],
        make_pipeline: Callable[..., IndexPipeline],
        *,
        state_file: Path,
        default_strategy: str,
        min_share: float = 0.5,
        on_progress: Callable[[IndexStats], None] | None = None,
        quality_gate: QualityGate | None = None,
    ) -> None:
        self.generations = generations
        self.sources = sources
        self.make_pipeline = make_pipeline  # (strategy=..., store=..., on_progress=...) -> IndexPipeline
        self.pending = PendingBuild(state_file)
        self.default_strategy = default_strategy
        self.min_share = min_share
        self.on_progress = on_progress
        self.quality_gate = quality_gate  # full rebuilds only: answers must not get worse (reindex_check.py)

    def run(self, *, full: bool = False, strategy: str | None = None, force: bool = False,
            clean: bool = False) -> ReindexResult:
        """One run; the caller holds the job lock (job_lock.py).

        ``clean`` discards an interrupted or refused build and rebuilds fully:
        the discarded build may hold changes whose connector checkpoints were
        already committed, which only a full listing brings back.
        """
        started = time.perf_counter()
        full = full or clean
        result = self._run(full=full, strategy=strategy, force=force, clean=clean)
        result.stats.seconds = time.perf_counter() - started  # the whole run: copy, index, check, switch
        return result

    def _run(self, *, full: bool, strategy: str | None, force: bool, clean: bool) -> ReindexResult:
        serving = self.generations.serving()
        record = self._settle_pending(serving, full=full, strategy=strategy, clean=clean)
        resumed = record is not None
        if record is None:
            record = self._start(serving, full=full, strategy=strategy)
        mode = record["mode"]
        store = self._open(record)
        try:
            if record.get("strategy") is None:  # incremental: keep the strategy the serving index was built with
                record["strategy"] = store.get_meta().get("chunk_strategy") or self.default_strategy
            pipeline = self.make_pipeline(strategy=record["strategy"], store=store, on_progress=self.on_progress)
            listing = SourceListing()
            failed_sources: list[str] = []
            # For the ETA: how many documents the sources will list, when they list everything.
            lists_all = mode == "full" or all(s.scope or s.infer_scope for s in self.sources)
            stats = self._index(pipeline, listing, failed_sources, full=mode == "full",
                                expected=self._documents_in(serving) if lists_all else 0)
            result = ReindexResult(mode, stats, serving or record["name"], resumed=resumed,
                                   failed_sources=failed_sources)
            if record["name"] == serving:  # updated in place (server backend): nothing to switch
                result.documents, result.chunks = len(store.document_hashes()), store.count()
                return result
            if isinstance(store, CopyOnWriteStore) and not store.copied:
                # Nothing was written: nothing to copy, check or switch; the serving index is what was checked.
                result.documents, result.chunks = self._counts_of(serving)
                return result
            changed = stats.documents_added + stats.documents_updated + stats.documents_deleted
            if mode == "incremental" and not changed and not resumed and not failed_sources:
                store.close()
                self._discard(record)
                result.documents, result.chunks = self._counts_of(serving)
                return result
            return self._finish(store, pipeline, record, serving, listing, result, force=force)
        finally:
            store.close()

    # --- steps ---------------------------------------------------------------------------
    def _settle_pending(self, serving: str | None, *, full: bool, strategy: str | None, clean: bool) -> dict | None:
        """The interrupted build to resume, if any; stale generations and finished records are cleared."""
        record = self.pending.read()
        if record is not None:
            if record["name"] == serving:  # the run switched and was killed before it could tidy up
                self._remove_old(record.get("base"), serving)
                self.pending.clear()
                record = None
            elif not self.generations.exists(record["name"]):
                self.pending.clear()
                record = None
            elif clean or (full and (record["mode"] != "full" or (strategy and strategy != record["strategy"]))):
                logger.info("discarding the interrupted %s build %s", record["mode"], record["name"])
                self._discard(record)
                record = None
            else:
                logger.info("resuming the interrupted %s build %s (started %s)", record["mode"], record["name"],
                            record.get("started"))
        keep = {serving, record["name"] if record else None}
        for name in self.generations.names():
            if name not in keep:
                logger.info("removing stale index generation %s", name)
                self.generations.remove(name)
        return record

    def _start(self, serving: str | None, *, full: bool, strategy: str | None) -> dict:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if not full and serving is not None and self.generations.in_place:
            return {"name": serving, "mode": "incremental", "strategy": None, "base": serving, "started": started}
        if not full and serving is not None:
            name = self.generations.new_name()
            record = {"name": name, "mode": "incremental", "strategy": None, "base": serving, "started": started}
            if self.generations.manifest(serving) is not None:
                return {**record, "copy_on_write": True}  # recorded as pending by the first write (see _open)
            self.generations.copy(serving, name)  # appears complete or not at all
        else:
            name = self.generations.new_name()
            record = {"name": name, "mode": "full", "strategy": strategy or self.default_strategy, "base": serving,
                      "started": started}
        self.pending.write(record)  # before anything is written to the new generation
        return record

    def _open(self, record: dict) -> ChunkStore:
        if not record.get("copy_on_write"):
            return self.generations.open(record["name"])
        pending = {k: v for k, v in record.items() if k != "copy_on_write"}
        return CopyOnWriteStore(self.generations, record["base"], record["name"],
                                self.generations.manifest(record["base"]) or {},
                                before_copy=lambda: self.pending.write(pending))

    def _index(self, pipeline: IndexPipeline, listing: SourceListing, failed_sources: list[str], *, full: bool,
               expected: int) -> IndexStats:
        scope: set[str] = set()  # read by the pipeline after the last batch
        families: set[str] = set()  # likewise
        current: list[IndexSource] = []

        def batches() -> Iterator[SyncBatch]:
            for source in self.sources:
                current[:] = [source]
                name = getattr(source.connector, "name", "source")
                seen_sources: set[str] = set()
                try:
                    for batch in source.connector.load() if full else source.connector.poll(None):
                        for document in batch.documents:
                            listing.add(document)
                            seen_sources.add(document.source)
                        listing.deleted.update(batch.deleted_ids)
                        yield batch
                except Exception as exc:  # one source failing must not stop the others
                    logger.error("source %s failed: %s", name, exc)
                    failed_sources.append(f"{name}: {exc}")
                    continue
                # Only a source that listed everything may delete what it did not list.
                scope.update(source.scope)
                if getattr(source.connector, "scope_family", None) and source.scope:
                    families.add(source.connector.scope_family)
                if source.infer_scope:
                    scope.update(f"{s}:" for s in seen_sources)
            if full and not failed_sources:
                scope.add("")  # a full build lists everything: what the generation holds unlisted goes

        def after_batch(batch: SyncBatch, failures: list[DocumentFailure]) -> None:
            if current and current[0].after_batch is not None:
                current[0].after_batch(batch, failures)

        needs_commit = any(s.after_batch for s in self.sources)
        stats = pipeline.index(batches(), full_scope=scope, scope_families=families,
                               after_batch=after_batch if needs_commit else None, expected_documents=expected)
        listing.failed.update(f"{f.source}:{f.source_id}" for f in stats.failures)
        return stats

    def _finish(self, store: ChunkStore, pipeline: IndexPipeline, record: dict, serving: str | None,
                listing: SourceListing, result: ReindexResult, *, force: bool) -> ReindexResult:
        check: CheckResult = check_index(store, listing, pipeline, serving_documents=self._documents_in(serving),
                                         min_share=0.0 if force else self.min_share)
        result.documents, result.chunks = check.documents, check.chunks
        if result.failed_sources and record["mode"] == "full" and not force:
            check.problems.append("a source failed as a whole, so the rebuild lacks its documents")
        gate = None
        if check.ok and record["mode"] == "full" and self.quality_gate is not None:
            gate = self.quality_gate(store, pipeline)  # run under --force too: its verdict becomes the new baseline
            result.worse_questions = gate.worse
            check.problems += [] if force else gate.problems
        if not check.ok:
            result.problems = check.problems
            logger.error("not switching to %s: %s", record["name"], "; ".join(check.problems))
            return result
        if record["mode"] == "full":
            store.optimize()
        store.set_meta({"documents": check.documents, "chunks": check.chunks,
                        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        store.close()  # the embedded engine lets one process hold a store: readers open it after the switch
        self.generations.write_manifest(record["name"], check.hashes)
        self.generations.switch(record["name"])
        result.switched, result.index = True, record["name"]
        if gate is not None:
            gate.accept(record["name"])
        self.pending.clear()
        self._remove_old(serving, record["name"])
        return result

    def _discard(self, record: dict) -> None:
        self.generations.remove(record["name"])
        self.pending.clear()

    def _remove_old(self, old: str | None, serving: str | None) -> None:
        if old and old != serving:
            self.generations.remove(old)

    def _counts_of(self, name: str | None) -> tuple[int, int]:
        """(documents, chunks) of a generation from its manifest and metadata, without opening it."""
        if name is None:
            return 0, 0
        meta = _read_meta(self.generations, name)
        manifest = self.generations.manifest(name)
        documents = len(manifest) if manifest is not None else int(meta.get("documents") or 0)
        return documents, int(meta.get("chunks") or 0)

    def _documents_in(self, name: str | None) -> int:
        """Documents in a generation per its metadata (read without opening the store, which readers may hold)."""
        if name is None:
            return 0
        return int(_read_meta(self.generations, name).get("documents") or 0)


def _read_meta(generations: IndexGenerations, name: str) -> dict:
    store = generations.open(name)
    try:
        return store.get_meta()
    finally:
        store.close()

