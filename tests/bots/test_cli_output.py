"""What ``kura`` prints is safe for a terminal and shows no server paths (issue 16, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.sanitize import for_terminal
from tests.bots.test_cli import kura

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202a", "\u202b", "\u202d", "\u202e", "\u2066", "\u2069"]


@pytest.mark.parametrize("char", INVISIBLE)
def test_terminal_text_has_no_zero_width_or_bidi_characters(char):
    assert for_terminal(f"report{char}.txt ok") == "report.txt ok"


@pytest.mark.parametrize("mention", ["@channel", "@here", "@everyone", "<!channel>", "<!here>"])
def test_terminal_text_has_no_broadcast_mentions(mention):
    shown = for_terminal(f"{mention} the VPN is down")
    assert mention not in shown and "the VPN is down" in shown


def test_kura_ask_prints_no_mentions_invisible_characters_or_overrides(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gateway.md").write_text(
        "# VPN gateway\n\nThe VPN gate\u200bway reboots nightly at 02:00, say @channel and <!here> \u202eexe.txt\u202c "
        "before the reboot window.\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    ingested = kura("ingest", "--path", str(docs), data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    asked = kura("ask", "When does the VPN gateway reboot?", data_dir=data)
    assert asked.returncode == 0, asked.stderr
    assert "02:00" in asked.stdout
    for bad in ["@channel", "<!here>", *INVISIBLE]:
        assert bad not in asked.stdout, repr(bad)


def test_kura_errors_show_no_server_paths(tmp_path):
    data = tmp_path / "srv-data"
    failed = kura("feedback", "export", data_dir=data)
    assert failed.returncode != 0 and "no feedback yet" in failed.stderr
    assert str(tmp_path) not in failed.stderr and "feedback.sqlite" in failed.stderr
