"""Progress output: rates and ETA on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import io

from bots.cli.progress import describe, eta_seconds, index_progress
from ingest.pipeline import IndexStats


def stats(**kwargs) -> IndexStats:
    base = dict(documents_added=30, documents_unchanged=10, chunks_embedded=120, seconds=20.0, documents_expected=100)
    return IndexStats(**{**base, **kwargs})


def test_line_has_counts_rates_and_eta():
    line = describe(stats())
    assert line.startswith("40/100 documents, 120 chunks embedded (2.0 docs/s, 6.0 chunks/s)")
    assert "30 added" in line and line.endswith("ETA 30s")  # 60 documents left at 2 per second
    assert eta_seconds(stats(documents_expected=0)) is None  # unknown total: no ETA
    assert "ETA" not in describe(stats(documents_expected=0)) and describe(stats(documents_expected=0)).startswith("40 documents")
    assert describe(stats(seconds=190.0, documents_expected=1000)).endswith("ETA 76m00s")


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with index_progress("reindex", interval_s=0, stream=out) as progress:
        progress(stats())
        progress(stats(documents_added=50))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all(l.startswith("reindex: ") for l in lines)
    quiet = io.StringIO()
    with index_progress("reindex", interval_s=3600, stream=quiet) as progress:
        progress(stats())
    assert quiet.getvalue() == ""  # at most one line per interval


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal():
    out = Terminal()
    with index_progress("reindex", stream=out) as progress:
        progress(stats())
    assert "40/100 documents" in out.getvalue() and "chunks/s" in out.getvalue()
