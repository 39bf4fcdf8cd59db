"""Socket Mode: the same bot over Slack's WebSocket (real SocketModeClient, loopback fake socket server)."""

from __future__ import annotations

import time

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bots.slack import blocks
from bots.slack.app import build_slack_app
from core.settings import Settings
from tests.bots.slack.conftest import AIKO, AIKO_EMAIL, RecordingKura
from tests.fakes.fake_slack_socket import FakeSlackSocket


@pytest.fixture
def socket_bot(indexed_kura, slack, tmp_path):
    with FakeSlackSocket() as socket_server:
        slack.socket_url = socket_server.url
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", slack_bot_token=slack.token,
                            slack_app_token=slack.app_token, slack_api_url=slack.url,
                            slack_stream_update_s=60)  # only the final answer updates the placeholder
        bolt_app, bot = build_slack_app(RecordingKura(indexed_kura), settings, mode="socket")
        handler = SocketModeHandler(bolt_app, settings.slack_app_token.get_secret_value())
        handler.connect()
        try:
            yield socket_server, bot, handler
        finally:
            handler.close()


def test_a_mention_over_socket_mode_is_acknowledged_and_answered_in_the_thread(socket_bot, slack):
    socket_server, bot, handler = socket_bot
    socket_server.wait_connected()
    assert handler.client.is_connected()  # what the /healthz of `kura slack` reports in Socket Mode
    assert slack.calls_to("apps.connections.open")  # called with the app-level token

    event = {"type": "app_mention", "user": AIKO, "channel": "CPUB", "ts": "1700000000.000100",
             "text": "<@UKURA> Who has to approve an expense report over 50,000 yen?"}
    envelope = socket_server.send_envelope("events_api", {
        "token": "unused", "team_id": "T0001", "api_app_id": "AKURA", "type": "event_callback",
        "event_id": "Ev0001", "event_time": int(time.time()), "event": event})
    socket_server.wait_for_ack(envelope)

    update = slack.wait_for("chat.update")[0]
    assert slack.calls_to("chat.postMessage")[0]["thread_ts"] == "1700000000.000100"
    assert "department head" in update["blocks"][0]["text"]["text"].lower()
    answer_id = next(e["value"] for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == blocks.HELPFUL_ACTION)

    # The Helpful button arrives as an interactive envelope.
    message = slack.messages["CPUB"][0]
    click = socket_server.send_envelope("interactive", {
        "type": "block_actions", "user": {"id": AIKO}, "team": {"id": "T0001"}, "api_app_id": "AKURA",
        "channel": {"id": "CPUB"}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": "CPUB"},
        "message": {"ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
        "actions": [{"type": "button", "action_id": blocks.HELPFUL_ACTION, "block_id": blocks.FEEDBACK_BLOCK,
                     "value": answer_id, "action_ts": "1700000001.0"}]})
    socket_server.wait_for_ack(click)
    slack.wait_for("chat.update", 2)
    feedback = bot.feedback.get_answer(answer_id).feedback
    assert feedback.helpful is True and feedback.user == AIKO_EMAIL
