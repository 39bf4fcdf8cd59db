"""Failures end as a message in the thread, never as silence; the error boundary logs; config errors are clear."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bots.app import KuraApp
from bots.slack.app import build_slack_app, resolve_mode
from bots.slack.bot import FAILED_TEXT
from bots.slack.server import http_app
from core.errors import ConfigError
from core.settings import Settings
from tests.bots.slack.conftest import AIKO

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_a_kura_error_is_shown_in_place_of_the_placeholder(start_bot, slack, tmp_path, embedder):
    empty = KuraApp(Settings(_env_file=None, data_dir=tmp_path / "no-index"), embedder=embedder)
    server = start_bot(empty)
    server.mention("CPUB", AIKO, "Who approves expense reports?", "1700000000.000100")
    update = slack.wait_for("chat.update")[0]
    assert update["ts"] == slack.messages["CPUB"][0]["ts"]
    assert ":warning:" in update["blocks"][0]["text"]["text"]
    assert "kura ingest" in update["text"]  # the store's own message tells the admin what to do


class ExplodingKura:
    """Stands in for a KuraApp whose answerer hits a bug; the bot's boundary is what is tested."""

    def __init__(self, identity):
        self.identity = identity

    def ask_stream(self, question, **kwargs):
        raise RuntimeError("document text that must not be logged")


def test_an_unexpected_error_reaches_the_boundary_and_the_user_gets_an_apology(start_bot, slack, indexed_kura,
                                                                             caplog):
    server = start_bot(ExplodingKura(indexed_kura.identity))
    with caplog.at_level(logging.ERROR, logger="bots.slack.bot"):
        server.mention("CPUB", AIKO, "Who approves expense reports?", "1700000000.000200")
        update = slack.wait_for("chat.update")[0]
        assert update["text"] == FAILED_TEXT
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:  # the boundary runs after the update
            time.sleep(0.05)
    record = caplog.records[0]
    assert "failed: RuntimeError" in record.getMessage() and record.exc_info
    assert "must not be logged" not in record.getMessage()


def test_health_endpoint_and_unknown_paths():
    client = TestClient(http_app(None, healthy=lambda: False))
    assert client.get("/healthz").status_code == 503
    assert TestClient(http_app(None)).get("/healthz").json() == {"status": "ok"}
    assert client.post("/slack/events", content=b"{}").status_code in (404, 405)


def test_modes_need_their_secrets():
    base = {"_env_file": None, "slack_bot_token": "xoxb-1"}
    assert resolve_mode(Settings(**base, slack_app_token="xapp-1")) == "socket"
    assert resolve_mode(Settings(**base, slack_signing_secret="s")) == "http"
    with pytest.raises(ConfigError, match="KURA_SLACK_SIGNING_SECRET"):
        resolve_mode(Settings(**base))
    with pytest.raises(ConfigError, match="KURA_SLACK_APP_TOKEN"):
        resolve_mode(Settings(**base, slack_mode="socket"))
    with pytest.raises(ConfigError, match="KURA_SLACK_BOT_TOKEN"):
        build_slack_app(None, Settings(_env_file=None, slack_signing_secret="s"))


def test_kura_slack_without_secrets_exits_with_a_config_error(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KURA_DATA_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "bots.cli", "slack"], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "KURA_SLACK_SIGNING_SECRET is not set" in run.stderr


class StreamingKura:
    """Stands in for a KuraApp whose LLM streams: verified pieces of text, slowly, then the final Answer."""

    def __init__(self, identity, answer):
        self.identity = identity
        self.answer = answer

    def ask_stream(self, question, **kwargs):
        for piece in ("Expense reports over ¥50,000 ", "need a department head's ", "approval. [1]"):
            time.sleep(0.3)
            yield piece
        yield self.answer


def test_a_streaming_answer_updates_the_placeholder_as_it_is_written(start_bot, slack, indexed_kura):
    final = indexed_kura.ask("Who has to approve an expense report over 50,000 yen?", principals=["public"])
    server = start_bot(StreamingKura(indexed_kura.identity, final), slack_stream_update_s=0.2)
    server.mention("CPUB", AIKO, "Who approves expense reports?", "1700000000.000300")
    slack.wait_for("chat.update", 3)
    deadline = time.monotonic() + 10
    while "Helpful" not in json.dumps(slack.calls_to("chat.update")[-1]) and time.monotonic() < deadline:
        time.sleep(0.05)
    updates = slack.calls_to("chat.update")
    partial, last = updates[0], updates[-1]
    assert partial["text"].startswith("Expense reports over ¥50,000")
    assert "Writing the answer" in json.dumps(partial) and "Helpful" not in json.dumps(partial)
    assert len(updates) >= 3 and all(u["ts"] == partial["ts"] for u in updates)  # one message, updated in place
    assert "kura_feedback_helpful" in json.dumps(last)  # the final Answer's blocks, with the buttons
