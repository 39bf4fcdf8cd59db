"""Streaming through a real uvicorn: each delta reaches the client while the answerer is still writing.

The answerer here streams like an LLM (``ask_stream``: deltas, then the Answer)
and pauses after its first delta until the test has received it, so an app or
server that buffered the response would hang this test instead of passing it.
"""

from __future__ import annotations

import threading

import httpx

from bots.feedback import FeedbackStore
from bots.web.app import create_app
from bots.web.conversations import ConversationStore
from bots.web.streaming import parse_sse

from tests.bots.web.conftest import ALICE, ServerThread, as_user, clean_settings

QUESTION = "Who has to approve an expense report over 50,000 yen?"


class PausingStreamKura:
    """The KuraApp interface the web app uses, answering like a streaming LLM over the real index."""

    def __init__(self, kura) -> None:
        self.kura = kura
        self.store = kura.store
        self.release = threading.Event()
        self.histories: list = []

    def principals_for(self, email):
        return self.kura.principals_for(email)

    def ask_stream(self, question, *, principals, history=None, **labels):
        self.histories.append(list(history or []))
        answer = self.kura.ask(question, principals=principals)
        words = answer.text.split(" ")
        self.first = words[0] + " "
        yield self.first
        if not self.release.wait(timeout=20):
            raise TimeoutError("the first delta never reached the client")
        for word in words[1:]:
            yield word + " "
        yield answer


def test_deltas_reach_the_client_before_the_answer_is_finished(web_kura, tmp_path):
    kura = PausingStreamKura(web_kura)
    settings = clean_settings(data_dir=tmp_path, web_auth_header="X-Forwarded-Email")
    app = create_app(kura, settings, feedback=FeedbackStore(tmp_path / "fb.sqlite"),
                     conversations=ConversationStore(tmp_path / "conv.sqlite"))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        body = ""
        with client.stream("POST", "/api/stream", json={"question": QUESTION}, headers=as_user(ALICE)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for text in response.iter_text():
                body += text
                if "event: delta" in body and not kura.release.is_set():
                    # The answerer is blocked mid-answer, yet its first words are already here.
                    assert parse_sse(body)[-1] == ("delta", {"text": kura.first})
                    kura.release.set()
        events = parse_sse(body)
        deltas = [data["text"] for name, data in events if name == "delta"]
        final = events[-1][1]
        assert len(deltas) > 5 and "".join(deltas).strip() == final["answer"]["answer"]

        # A follow-up in the same conversation hands the answerer the conversation so far.
        kura.release.set()
        follow_up = client.post("/api/stream", json={"question": "And over 300,000 yen?", "conversation_id": final["conversation_id"]},
                                headers=as_user(ALICE))
        assert parse_sse(follow_up.text)[-1][0] == "answer"
        assert kura.histories[-1] == [("user", QUESTION), ("assistant", final["answer"]["answer"])]
