"""The web app's /metrics after asking and rating, and the answer trace lines."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from bots.observe import TRACE_LOGGER

from tests.bots.metrics_scrape import moved, parse_metrics
from tests.bots.web.conftest import ALICE, BOB, as_user

EXPENSE_Q = "Who has to approve an expense report over 50,000 yen?"
UNANSWERABLE_Q = "How tall is Mount Fuji in winter?"


def scrape(client) -> dict:
    response = client.get("/metrics")  # no sign-in: Prometheus scrapes it
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_metrics(response.text)


def test_metrics_count_questions_outcomes_stages_and_verdicts(make_web):
    web = make_web()
    client = TestClient(web.app)
    before = scrape(client)

    answered = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE)).json()
    streamed = client.post("/api/stream", json={"question": UNANSWERABLE_Q}, headers=as_user(BOB))
    assert streamed.status_code == 200 and '"abstained": true' in streamed.text
    client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(BOB))
    assert client.post("/api/feedback", json={"answer_id": answered["answer_id"], "helpful": True},
                       headers=as_user(ALICE)).status_code == 200
    # A reason added afterwards is the same verdict, not a second one.
    client.post("/api/feedback", json={"answer_id": answered["answer_id"], "helpful": True, "reason": "quick"},
                headers=as_user(ALICE))
    abstained_id = [r for r in web.feedback.answers_since("2000") if r.answer["abstained"]][0].id
    client.post("/api/feedback", json={"answer_id": abstained_id, "helpful": False, "reason": "Fuji is not ours"},
                headers=as_user(BOB))

    after = scrape(client)
    assert moved(after, before, "kura_questions_total", surface="web") == 3
    assert moved(after, before, "kura_answers_total", surface="web", outcome="answered") == 2
    assert moved(after, before, "kura_answers_total", surface="web", outcome="abstained") == 1
    assert moved(after, before, "kura_answers_total", surface="web", outcome="error") == 0
    assert moved(after, before, "kura_stage_seconds_count", stage="retrieval") == 3
    assert moved(after, before, "kura_stage_seconds_count", stage="answer") == 3
    assert moved(after, before, "kura_stage_seconds_sum", stage="retrieval") > 0
    assert moved(after, before, "kura_verdicts_total", surface="web", verdict="helpful") == 1
    assert moved(after, before, "kura_verdicts_total", surface="web", verdict="not_helpful") == 1


def test_a_failed_answer_counts_as_an_error(make_web, monkeypatch, web_kura):
    client = TestClient(make_web().app)
    before = scrape(client)

    def broken(*args, **kwargs):
        raise RuntimeError("the index went away")

    monkeypatch.setattr(web_kura.store, "query", broken)  # every search, one query or several, goes through it
    events = client.post("/api/stream", json={"question": EXPENSE_Q}, headers=as_user(ALICE)).text
    assert "event: error" in events
    after = scrape(client)
    assert moved(after, before, "kura_questions_total", surface="web") == 1
    assert moved(after, before, "kura_answers_total", surface="web", outcome="error") == 1


def trace_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == TRACE_LOGGER]


def test_one_trace_line_per_answer_without_the_question_or_document_text(make_web, caplog):
    web = make_web()
    client = TestClient(web.app)
    caplog.set_level(logging.INFO, logger=TRACE_LOGGER)
    final = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE)).json()

    (trace,) = trace_lines(caplog)
    answer = final["answer"]
    assert trace["surface"] == "web" and trace["conversation_id"] == final["conversation_id"]
    assert trace["outcome"] == "answered" and trace["answerer"] == "extractive"
    assert trace["answerer_requested"] == "extractive"
    assert trace["cited_chunk_ids"] == [s["chunk_id"] for s in answer["sources"]]
    record = web.feedback.get_answer(final["answer_id"])
    assert trace["retrieved_chunk_ids"] == [r["chunk_id"] for r in record.retrieved]
    assert set(trace["timings_ms"]) >= {"retrieval", "answer", "total"}
    assert {"model", "prompt_version"} <= set(trace)
    raw = caplog.records[-1].getMessage()
    assert "expense report" not in raw.lower()  # not the question
    assert answer["sentences"][0]["text"][:30] not in raw  # nor the answer's (document) text
    assert answer["sources"][0]["title"] not in raw


def test_the_question_is_traced_only_when_a_setting_allows_it(make_web, caplog, web_kura, monkeypatch):
    from bots.observe import AnswerObserver

    client = TestClient(make_web().app)
    caplog.set_level(logging.INFO, logger=TRACE_LOGGER)
    monkeypatch.setattr(web_kura, "observer", AnswerObserver(trace_questions=True), raising=False)
    client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE))
    assert trace_lines(caplog)[-1]["question"] == EXPENSE_Q
