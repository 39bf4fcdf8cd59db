"""Progress for long jobs: a live bar with rates and ETA in a terminal, plain periodic lines otherwise (cron, CI).

The ETA comes from ``IndexStats.documents_expected`` (the serving index's
document count, when known) and the document rate so far; without it the bar
shows counts and rates only.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from ingest.pipeline import IndexStats


def describe(stats: IndexStats) -> str:
    """One line: documents (of expected), chunks, rates and ETA."""
    secs = max(stats.seconds, 1e-9)
    done = stats.documents_seen
    docs = f"{done}/{stats.documents_expected} documents" if stats.documents_expected else f"{done} documents"
    line = (
        f"{docs}, {stats.chunks_embedded} chunks embedded "
        f"({done / secs:.1f} docs/s, {stats.chunks_embedded / secs:.1f} chunks/s), "
        f"{stats.documents_added} added, {stats.documents_updated} updated, {stats.documents_deleted} deleted, "
        f"{stats.documents_failed} failed, {stats.seconds:.0f}s"
    )
    eta = eta_seconds(stats)
    return line + (f", ETA {_clock(eta)}" if eta is not None else "")


def eta_seconds(stats: IndexStats) -> float | None:
    done, total = stats.documents_seen, stats.documents_expected
    if not total or not done or done >= total or stats.seconds <= 0:
        return None
    return (total - done) * stats.seconds / done


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@contextmanager
def index_progress(label: str, *, interval_s: float = 10.0, stream=None):
    """Yields an ``on_progress(stats)`` callback suited to where output goes (stderr by default)."""
    stream = stream or sys.stderr
    if stream.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(file=stream), transient=True) as bar:
            task = bar.add_task(label, total=None)

            def update(stats: IndexStats) -> None:
                total = stats.documents_expected or None
                bar.update(task, total=total, completed=min(stats.documents_seen, total or stats.documents_seen),
                           description=f"{label}: {describe(stats)}")

            yield update
    else:
        last = [time.monotonic()]

        def log(stats: IndexStats) -> None:
            now = time.monotonic()
            if now - last[0] >= interval_s:
                last[0] = now
                print(f"{label}: {describe(stats)}", file=stream, flush=True)

        yield log
