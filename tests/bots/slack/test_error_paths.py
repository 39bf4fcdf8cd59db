"""A failure's reply in Slack names no server path (issue 16, item 8)."""

from __future__ import annotations

from core.errors import StoreError
from tests.bots.slack.conftest import AIKO


class BrokenIndexKura:
    """Stands in for a KuraApp whose index cannot be opened; the bot's error reply is what is tested."""

    def __init__(self, identity):
        self.identity = identity

    def ask_stream(self, question, **kwargs):
        raise StoreError("path already contains segment data: /srv/kura/data/index/gen-000002 (run kura reindex)")


def test_a_store_error_reply_shows_no_server_path(start_bot, slack, indexed_kura):
    server = start_bot(BrokenIndexKura(indexed_kura.identity))
    server.mention("CPUB", AIKO, "Who approves expense reports?", "1700000000.000900")
    update = slack.wait_for("chat.update")[0]
    shown = update["text"] + str(update["blocks"])
    assert "segment data" in shown and "gen-000002" in shown
    assert "/srv" not in shown and "/data/index" not in shown
