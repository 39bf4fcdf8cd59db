"""The web chat's JSON API: streaming format, not-found answers, feedback, the OpenAPI schema and the error boundary."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from bots.web.app import create_app
from bots.web.streaming import parse_sse, split_for_streaming

from tests.bots.web.conftest import ALICE, BOB, EXPENSES_ID, KEIHI_ID, as_user, clean_settings

EXPENSE_Q = "Who has to approve an expense report over 50,000 yen?"


def stream(client, user, question, conversation_id=None):
    response = client.post("/api/stream", json={"question": question, "conversation_id": conversation_id}, headers=as_user(user))
    assert response.status_code == 200, response.text
    return response


def test_stream_sends_status_deltas_then_the_answer(make_web):
    web = make_web()
    client = TestClient(web.app)
    response = stream(client, ALICE, EXPENSE_Q)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    # The wire format itself: named events, one JSON data line each, blank-line separated.
    assert response.text.startswith('event: status\ndata: {"stage": "searching"}\n\n')
    assert response.text.endswith("\n\n")

    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "status" and names[-1] == "answer" and set(names[1:-1]) == {"delta"}
    assert len(names) >= 4  # several cited sentences arrive as several deltas
    final = events[-1][1]
    answer = final["answer"]
    assert "".join(data["text"] for name, data in events if name == "delta") == answer["answer"]
    assert not answer["abstained"] and answer["sources"][0]["document_id"] == EXPENSES_ID
    assert "[1]" in answer["answer"] and answer["sources"][0]["snippet"]

    # What was streamed is what is stored: the conversation and the answer for feedback.
    conversation = client.get(f"/api/conversations/{final['conversation_id']}", headers=as_user(ALICE)).json()
    assert conversation["turns"][0]["answer"] == answer and conversation["turns"][0]["id"] == final["turn_id"]
    record = web.feedback.get_answer(final["answer_id"])
    assert record.user == ALICE and record.surface == "web" and record.conversation_id == final["conversation_id"]
    assert record.retrieved  # the retrieved chunks travel to the eval dataset


def test_ask_and_stream_agree(make_web):
    client = TestClient(make_web().app)
    whole = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE)).json()
    streamed = parse_sse(stream(client, ALICE, EXPENSE_Q).text)[-1][1]
    assert whole["answer"]["answer"] == streamed["answer"]["answer"]
    assert whole["answer"]["sources"] == streamed["answer"]["sources"]
    assert set(whole) == set(streamed) == {"conversation_id", "turn_id", "answer_id", "answer"}


def test_japanese_question_streams_a_japanese_answer(make_web):
    client = TestClient(make_web().app)
    events = parse_sse(stream(client, BOB, "経費精算申請書はいつまでに提出する必要がありますか？").text)
    answer = events[-1][1]["answer"]
    assert "30日以内" in answer["answer"]
    assert {s["document_id"] for s in answer["sources"]} == {KEIHI_ID} and answer["sources"][0]["title"] == "経費精算の手順"


def test_not_found_answer_lists_the_closest_documents(make_web):
    client = TestClient(make_web().app)
    answer = parse_sse(stream(client, BOB, "How tall is Mount Fuji in winter?").text)[-1][1]["answer"]
    assert answer["abstained"] is True
    assert answer["answer"] == "I could not find this in the documents you can access."
    assert answer["sources"] and all(s["url"].startswith("https://") for s in answer["sources"])


def test_feedback_is_stored_for_the_asker_only(make_web):
    web = make_web()
    client = TestClient(web.app)
    final = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE)).json()
    answer_id = final["answer_id"]

    ok = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": False}, headers=as_user(ALICE))
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    client.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "reason": "名前が古い"}, headers=as_user(ALICE))
    verdict = web.feedback.get_answer(answer_id).feedback
    assert verdict.user == ALICE and verdict.helpful is False and verdict.reason == "名前が古い"

    turn = client.get(f"/api/conversations/{final['conversation_id']}", headers=as_user(ALICE)).json()["turns"][0]
    assert turn["feedback"] == {"helpful": False, "reason": "名前が古い"}

    other = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": True}, headers=as_user(BOB))
    assert other.status_code == 403 and web.feedback.get_answer(answer_id).feedback.helpful is False
    missing = client.post("/api/feedback", json={"answer_id": "nope", "helpful": True}, headers=as_user(ALICE))
    assert missing.status_code == 404
    too_long = client.post("/api/feedback", json={"answer_id": answer_id, "helpful": True, "reason": "x" * 2001}, headers=as_user(ALICE))
    assert too_long.status_code == 422 and "reason" in too_long.json()["error"]


def test_bad_requests_get_clear_messages(make_web):
    client = TestClient(make_web().app)
    empty = client.post("/api/ask", json={"question": ""}, headers=as_user(ALICE))
    assert empty.status_code == 422
    assert empty.json()["error"] == "invalid request: question: String should have at least 1 character"
    # A cross-site form cannot post to the API: it only takes JSON.
    form = client.post("/api/ask", content="question=hi", headers={**as_user(ALICE), "content-type": "text/plain"})
    assert form.status_code == 422
    assert client.get("/no/such/page", headers=as_user(ALICE)).status_code == 404


def test_openapi_schema_describes_the_api(make_web):
    schema = TestClient(make_web().app).get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/ask", "post"), ("/api/stream", "post"), ("/api/feedback", "post"), ("/api/history", "get"),
        ("/api/conversations/{conversation_id}", "get"), ("/api/conversations/{conversation_id}/share", "post"),
        ("/api/shared/{token}", "get"), ("/api/health", "get"),
    ]:
        assert method in paths[path], path
    assert "text/event-stream" in paths["/api/stream"]["post"]["responses"]["200"]["content"]
    assert "AskResponse" in schema["components"]["schemas"]
    assert not any(p.startswith("/login") or p == "/" for p in paths)  # pages are not API


def test_missing_index_is_a_clear_503(tmp_path, web_kura):
    from bots.app import KuraApp

    settings = clean_settings(data_dir=tmp_path / "empty", web_auth_header="X-Forwarded-Email")
    with KuraApp(settings, embedder=web_kura.embedder) as empty:
        client = TestClient(create_app(empty, settings))
        assert client.get("/api/health").json() == {"status": "no_index", "index_chunks": None}
        response = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE))
        assert response.status_code == 503 and "kura ingest" in response.json()["error"]
        events = parse_sse(stream(client, ALICE, EXPENSE_Q).text)
        assert events[-1][0] == "error" and "kura ingest" in events[-1][1]["message"]


def test_unexpected_failures_show_no_internals(make_web):
    web = make_web()
    client = TestClient(web.app, raise_server_exceptions=False)
    web.feedback.path.write_bytes(b"this is not a database" * 100)  # the next write fails deep inside sqlite3

    response = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE))
    assert response.status_code == 500
    message = response.json()["error"]
    assert message.startswith("Something went wrong. Please try again") and "reference" in message
    assert "sqlite" not in message.lower() and "Traceback" not in response.text

    event, data = parse_sse(stream(client, ALICE, EXPENSE_Q).text)[-1]
    assert event == "error" and data["message"].startswith("Something went wrong") and "sqlite" not in json.dumps(data)
    assert "reference none" not in data["message"]  # the reference points at the logged traceback


def test_split_for_streaming_keeps_the_text():
    for text in ["One. [1] Two. [2]", "一つ目。[1]二つ目。[2]", "No citations here.", "", "Odd ] bracket [3]"]:
        pieces = split_for_streaming(text)
        assert "".join(pieces) == text
    assert split_for_streaming("One. [1] Two. [2]") == ["One. [1] ", "Two. [2]"]


def test_static_files_are_cacheable_and_pages_are_utf8(make_web):
    client = TestClient(make_web().app)
    page = client.get("/", headers=as_user(ALICE))
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="en">' in page.text and '<meta charset="utf-8">' in page.text
    script = next(part.split('"')[0] for part in page.text.split('src="')[1:] if part.startswith("/static/chat.js"))
    js = client.get(script)
    assert js.status_code == 200 and "max-age" in js.headers["cache-control"]
    assert ".innerHTML" not in js.text and "insertAdjacentHTML" not in js.text  # text goes in as text nodes only
