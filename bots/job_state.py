"""What the sync and re-index jobs did, per source, kept in a small file the serving processes export.

``kura sync`` and ``kura reindex`` run as their own processes (cron, the
compose ``reindex`` service) and end; the web app and the Slack bot run on. So
each job adds its figures to ``<data dir>/state/jobs.json`` when it finishes,
and ``/metrics`` (bots/metrics.py) and the insight page read that file. The
counts are cumulative, so they behave as Prometheus counters across runs::

    {"format": "kura-jobs/1",
     "jobs": {"sync": {"confluence": {"added": 12, "updated": 3, "deleted": 0, "failed": 1,
                                      "runs": 4, "last_run": 1767225600.0, "last_success": 1767225600.0,
                                      "failures": [{"source_id": "123", "reason": "HTTP 403"}]}}}}

``failures`` are the documents that failed in the source's last run (at most
``MAX_FAILURES``): the queue of what still needs fixing. A source is keyed by
the source part of its document ids (``confluence``, ``gdocs``, ``slack``,
``files``); figures a job cannot split by source are kept under ``all``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FORMAT = "kura-jobs/1"
CHANGES = ("added", "updated", "deleted", "failed")
MAX_FAILURES = 100
ALL_SOURCES = "all"


def source_of(document_id: str) -> str:
    return document_id.split(":", 1)[0]


class JobStateFile:
    """Reads and updates ``jobs.json``; written whole and atomically, so a reader never sees half a file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> "JobStateFile":
        return cls(Path(state_dir) / "jobs.json")

    def read(self) -> dict[str, dict[str, dict[str, Any]]]:
        """job -> source -> figures; empty when no job has run (or the file is unreadable, which is logged)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("cannot read the job state file %s: %s", self.path, exc)
            return {}
        jobs = data.get("jobs") if isinstance(data, dict) else None
        return jobs if isinstance(jobs, dict) else {}

    def record(self, job: str, per_source: dict[str, dict[str, Any]], *, succeeded: Iterable[str],
               now: float | None = None) -> None:
        """Add one run: ``per_source[source]`` holds added/updated/deleted/failed and ``failures`` (dicts).

        ``succeeded``: the sources whose part of the run succeeded (their ``last_success`` moves).
        """
        now = time.time() if now is None else now
        jobs = self.read()
        sources = jobs.setdefault(job, {})
        succeeded = set(succeeded)
        for source in set(per_source) | succeeded:
            figures = per_source.get(source, {})
            entry = sources.setdefault(source, {c: 0 for c in CHANGES})
            for change in CHANGES:
                entry[change] = int(entry.get(change, 0)) + int(figures.get(change, 0))
            entry["runs"] = int(entry.get("runs", 0)) + 1
            entry["last_run"] = now
            if source in succeeded:
                entry["last_success"] = now
            entry["failures"] = list(figures.get("failures", []))[:MAX_FAILURES]
        self._write({"format": FORMAT, "jobs": jobs})

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".jobs-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _failure_dicts(failures) -> dict[str, list[dict[str, str]]]:
    by_source: dict[str, list[dict[str, str]]] = {}
    for f in failures:
        by_source.setdefault(f.source, []).append({"source_id": str(f.source_id), "reason": str(f.reason)[:300]})
    return by_source


def sync_figures(summary) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per-source figures of a ``kura sync`` (ingest.sync.SyncSummary) and the sources that succeeded."""
    per_source: dict[str, dict[str, Any]] = {}
    succeeded = []
    for result in summary.results:
        s = result.stats
        per_source[result.source] = {
            "added": s.documents_added, "updated": s.documents_updated, "deleted": s.documents_deleted,
            "failed": s.documents_failed,
            "failures": [{"source_id": str(f.source_id), "reason": str(f.reason)[:300]} for f in s.failures],
        }
        if result.error is None:
            succeeded.append(result.source)
    return per_source, succeeded


def reindex_figures(result, before: dict[str, str] | None, after: dict[str, str] | None
                    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per-source figures of a ``kura reindex`` run (ingest.reindex.ReindexResult) and the sources that succeeded.

    The job indexes every source in one pipeline run, so it counts changes for
    all of them together. Split by source, they come from comparing the
    document hashes of the index that served before the run with the one
    serving after it (``before``/``after``: generation manifests). Where that
    is impossible, an incremental run's totals go under ``all`` (a Qdrant
    server updated in place) and a full rebuild's are left out (it "added"
    every document to an empty index, which says nothing). A run refused by
    its checks changed nothing that serves and succeeded for no source.
    """
    per_source: dict[str, dict[str, Any]] = {}

    def entry(source: str) -> dict[str, Any]:
        return per_source.setdefault(source, {c: 0 for c in CHANGES} | {"failures": []})

    if result.problems:
        pass
    elif result.switched and before is not None and after is not None:
        for doc_id, digest in after.items():
            if doc_id not in before:
                entry(source_of(doc_id))["added"] += 1
            elif before[doc_id] != digest:
                entry(source_of(doc_id))["updated"] += 1
        for doc_id in before.keys() - after.keys():
            entry(source_of(doc_id))["deleted"] += 1
    elif result.mode == "incremental":
        s = result.stats
        if s.documents_added or s.documents_updated or s.documents_deleted:
            entry(ALL_SOURCES).update(added=s.documents_added, updated=s.documents_updated,
                                      deleted=s.documents_deleted)
    for source, items in _failure_dicts(result.stats.failures).items():
        e = entry(source)
        e["failed"], e["failures"] = len(items), items
    if result.problems:
        return per_source, []
    present = {source_of(d) for d in (after or before or {})} or {ALL_SOURCES}
    failed_sources = {line.split(":", 1)[0] for line in result.failed_sources}
    return per_source, sorted((present | set(per_source)) - failed_sources)
