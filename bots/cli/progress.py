"""Progress for long jobs: a live bar with rates in a terminal, plain periodic log lines otherwise (cron, CI)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from ingest.pipeline import IndexStats


@contextmanager
def index_progress(label: str, *, interval_s: float = 10.0):
    """Yields an ``on_progress(stats)`` callback suited to where output goes."""
    if sys.stderr.isatty():
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task(label)

            def update(stats: IndexStats) -> None:
                rate = stats.chunks_embedded / stats.seconds if stats.seconds else 0.0
                bar.update(
                    task,
                    description=f"{label}: {stats.documents_seen} docs, {stats.chunks_embedded} chunks ({rate:.0f}/s)",
                )

            yield update
    else:
        last = [time.monotonic()]

        def log(stats: IndexStats) -> None:
            now = time.monotonic()
            if now - last[0] >= interval_s:
                last[0] = now
                print(f"{label}: {stats.documents_seen} documents, {stats.chunks_embedded} chunks embedded, "
                      f"{stats.seconds:.0f}s", file=sys.stderr, flush=True)

        yield log
