"""The Slack bot's /metrics: a question, its answer and a verdict move the slack-labelled counters."""

from __future__ import annotations

import time

import httpx

from bots.slack import blocks

from tests.bots.metrics_scrape import moved, parse_metrics
from tests.bots.slack.conftest import AIKO
from tests.bots.slack.test_slack_http import EXPENSE_QUESTION, ask_and_wait, buttons, click


def scrape(bot_server) -> dict:
    response = httpx.get(bot_server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    return parse_metrics(response.text)


def final_update(slack) -> dict:
    """The answer's last update, the one with the buttons (on a slow machine a partial update comes first)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        updates = [u for u in slack.calls_to("chat.update") if blocks.HELPFUL_ACTION in buttons(u["blocks"])]
        if updates:
            return updates[-1]
        time.sleep(0.05)
    raise AssertionError("the answer never arrived")


def test_slack_metrics_move_after_a_question_and_a_verdict(bot_server, slack):
    before = scrape(bot_server)
    ask_and_wait(bot_server, slack, "CPUB", AIKO, EXPENSE_QUESTION, "1700000000.000900")
    update = final_update(slack)
    answer_id = buttons(update["blocks"])[blocks.HELPFUL_ACTION]["value"]
    message = next(m for m in slack.messages["CPUB"] if m["ts"] == update["ts"])
    assert click(bot_server, AIKO, "CPUB", message, blocks.HELPFUL_ACTION, answer_id).status_code == 200
    deadline = time.monotonic() + 30  # the click is acknowledged first, then handled
    while (after := scrape(bot_server)) and not moved(after, before, "kura_verdicts_total", surface="slack",
                                                       verdict="helpful") and time.monotonic() < deadline:
        time.sleep(0.05)

    assert moved(after, before, "kura_questions_total", surface="slack") == 1
    assert moved(after, before, "kura_answers_total", surface="slack", outcome="answered") == 1
    assert moved(after, before, "kura_answers_total", surface="slack", outcome="error") == 0
    assert moved(after, before, "kura_verdicts_total", surface="slack", verdict="helpful") == 1
    assert moved(after, before, "kura_stage_seconds_count", stage="retrieval") == 1
