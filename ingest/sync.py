"""``kura sync``: run the configured connectors into the index, committing each batch's checkpoint after indexing it.

The order per batch is the whole crash-safety argument: ``IndexPipeline.index``
writes the batch (durably: it flushes the store), *then* the checkpoint store
records the batch's cursor, ledger and failures. A sync killed in between
re-fetches that batch next time; the pipeline sees unchanged content hashes and
embeds nothing, and chunk ids are deterministic, so nothing is duplicated.

An auth or configuration error stops that source at once (its message says
what to fix); the other sources still sync and the summary reports the error.
Only one sync runs at a time per state directory (a file lock).
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.errors import ConnectorAuthError, ConnectorError, KuraError
from core.protocols import DocumentFailure
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore
from ingest.pipeline import IndexPipeline, IndexStats

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, IndexStats], None]


@dataclass
class SourceResult:
    """One source's part of a sync."""

    source: str
    stats: IndexStats = field(default_factory=IndexStats)
    batches: int = 0
    error: str | None = None
    auth_error: bool = False
    skipped: list[DocumentFailure] = field(default_factory=list)  # never deliverable as they are (too large, ...)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "batches": self.batches, "error": self.error, **self.stats.to_dict(),
                "skipped": [{"id": f"{s.source}:{s.source_id}", "reason": s.reason} for s in self.skipped]}


@dataclass
class SyncSummary:
    results: list[SourceResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.error is None for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 2), "sources": [r.to_dict() for r in self.results]}


def add_stats(total: IndexStats, part: IndexStats) -> None:
    """Accumulate one index call's figures into a running total."""
    for f in fields(IndexStats):
        mine, theirs = getattr(total, f.name), getattr(part, f.name)
        if f.name == "seconds":
            continue
        if isinstance(mine, list):  # failures, skipped
            mine.extend(theirs)
        elif isinstance(mine, dict):  # the LLM summarizer's counters
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        else:
            setattr(total, f.name, mine + theirs)


@contextmanager
def sync_lock(state_dir: Path):
    """Refuse to run two syncs over the same state at once (they would race on cursors)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "sync.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConnectorError(f"another kura sync is running (lock {state_dir / 'sync.lock'})") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SyncRunner:
    """Drives connectors -> pipeline -> checkpoint commits and collects a summary."""

    def __init__(self, pipeline: IndexPipeline, checkpoints: CheckpointStore, connectors: list,
                 *, on_progress: ProgressCallback | None = None) -> None:
        self.pipeline = pipeline
        self.checkpoints = checkpoints
        self.connectors = connectors
        self.on_progress = on_progress

    def run(self, *, full: bool = False) -> SyncSummary:
        """Sync every connector; ``full`` lists everything again instead of reading changes."""
        started = time.perf_counter()
        summary = SyncSummary()
        with sync_lock(self.checkpoints.path.parent):
            for connector in self.connectors:
                summary.results.append(self._sync_one(connector, full))
        summary.seconds = time.perf_counter() - started
        return summary

    def _sync_one(self, connector, full: bool) -> SourceResult:
        result = SourceResult(connector.name)
        started = time.perf_counter()
        try:
            for batch in connector.load() if full else connector.poll(None):
                self._index_and_commit(batch, result)
                result.stats.seconds = time.perf_counter() - started
                if self.on_progress is not None:
                    self.on_progress(connector.name, result.stats)
        except ConnectorAuthError as exc:
            result.error, result.auth_error = str(exc), True
            logger.error("%s: stopped: %s", connector.name, exc)
        except KuraError as exc:  # rate limited or unreachable after retries: the next sync resumes here
            result.error = str(exc)
            logger.error("%s: stopped: %s", connector.name, exc)
        except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen answer in one source spares the others
            result.error = f"unexpected {exc.__class__.__name__}: {exc}"
            logger.exception("%s: stopped by an unexpected error", connector.name)
        result.stats.seconds = time.perf_counter() - started
        return result

    def _index_and_commit(self, batch: CheckpointedBatch, result: SourceResult) -> None:
        if batch.documents or batch.deleted_ids or batch.failures:
            stats = self.pipeline.index([batch])
            batch = _without_unindexed(batch, stats)
            add_stats(result.stats, stats)
        self.checkpoints.commit(batch)  # only now: the batch is in the index
        result.skipped.extend(batch.skipped)
        result.batches += 1


def _without_unindexed(batch: CheckpointedBatch, stats: IndexStats) -> CheckpointedBatch:
    """Documents the pipeline could not index become failures, so the ledger does not claim them."""
    reported = {(f.source, f.source_id) for f in batch.failures}
    extra = [f for f in stats.failures if (f.source, f.source_id) not in reported]
    if not extra:
        return batch
    failed = {f"{f.source}:{f.source_id}" for f in extra}
    return replace(batch, documents=[d for d in batch.documents if d.id not in failed],
                   failures=list(batch.failures) + [DocumentFailure(f.source, f.source_id, f.reason) for f in extra])
