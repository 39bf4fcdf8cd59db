"""What the re-index job works with: its sources, its state file and the result of a run."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.protocols import Connector, DocumentFailure, SyncBatch
from ingest.pipeline import IndexStats


@dataclass
class IndexSource:
    """A connector as the job runs it (built by the composition root)."""

    connector: Connector
    scope: tuple[str, ...] = ()  # id prefixes its listing covers completely: indexed but unlisted ones are deleted
    infer_scope: bool = False  # scope = "<source>:" of each document it lists (the sample corpus)
    # Called once a batch is written, with its failures: e.g. commit the connector's checkpoint.
    after_batch: Callable[[SyncBatch, list[DocumentFailure]], None] | None = None


@dataclass
class ReindexResult:
    """What a run did; ``to_dict`` is the ``--json`` summary."""

    mode: str  # "incremental" or "full"
    stats: IndexStats
    index: str  # the generation serving after the run
    switched: bool = False
    resumed: bool = False
    documents: int = 0
    chunks: int = 0
    problems: list[str] = field(default_factory=list)  # why a new index was not switched to
    failed_sources: list[str] = field(default_factory=list)
    worse_questions: list[str] = field(default_factory=list)  # feedback regression set, full rebuilds only

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failed_sources

    def to_dict(self) -> dict:
        out = self.stats.to_dict()  # documents_added/updated/deleted/unchanged/failed, chunks_embedded, failures
        out.update(seconds=round(self.stats.seconds, 3), embed_seconds=round(self.stats.embed_seconds, 3))
        out.update(mode=self.mode, ok=self.ok, switched=self.switched, resumed=self.resumed, index=self.index,
                   documents=self.documents, chunks=self.chunks, problems=self.problems,
                   failed_sources=self.failed_sources, worse_questions=self.worse_questions)
        return out

    def summary_line(self) -> str:
        head = f"reindex {self.mode}{' (resumed)' if self.resumed else ''}: {self.stats.summary_line()}"
        if self.problems:
            return f"{head}; NOT switched, {self.index} keeps serving: {'; '.join(self.problems)}"
        tail = f"; now serving {self.index} ({self.documents} documents, {self.chunks} chunks)" if self.switched else ""
        failed = f"; sources failed: {', '.join(self.failed_sources)}" if self.failed_sources else ""
        return head + tail + failed


class PendingBuild:
    """The state file naming the generation under construction (absent when none is)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict | None:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else None

    def write(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".reindex-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
