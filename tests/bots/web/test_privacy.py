"""Sign-in edge cases, access lost since asking, error messages without paths, private data files (issue 16, item 8)."""

from __future__ import annotations

import os
import stat

import pytest
from fastapi.testclient import TestClient

from bots.cli.serve import check_exposure
from bots.feedback import FeedbackStore
from bots.web.app import create_app
from bots.web.auth import SESSION_COOKIE
from bots.web.conversations import ConversationStore
from bots.web.errors import user_message
from core.errors import ConfigError, StoreError

from tests.bots.web.conftest import ALICE, BOB, CAROL, SALARIES_ID, as_user, clean_settings

SALARY_Q = "2026年度の給与バンドの改定コードは何ですか？"
EXPENSE_Q = "Who has to approve an expense report over 50,000 yen?"


@pytest.mark.parametrize("blank", [" ", "\t", "  \n"])
def test_a_blank_auth_header_counts_as_unset_for_serve_as_for_the_app(blank, make_web):
    # kura serve refuses the password-less login on a network interface...
    with pytest.raises(ConfigError, match="KURA_WEB_AUTH_HEADER"):
        check_exposure(clean_settings(web_host="0.0.0.0", web_auth_header=blank))
    # ...because the app itself then offers it.
    assert make_web(web_auth_header=blank).app.state.web.auth.local_login


def test_two_identity_headers_are_refused(make_web):
    client = TestClient(make_web().app)
    both = [("X-Forwarded-Email", ALICE), ("X-Forwarded-Email", BOB)]
    assert client.get("/api/history", headers=both).status_code == 401
    assert client.get("/api/history", headers=[("X-Forwarded-Email", f"{ALICE},{BOB}")]).status_code == 401
    assert client.get("/api/history", headers=as_user(BOB)).json()["user"] == BOB


def test_a_session_cookie_stops_working_after_logout(make_web):
    web = make_web(web_auth_header=None)
    client = TestClient(web.app, follow_redirects=False)
    assert client.post("/login", data={"email": ALICE, "next": "/"}).status_code == 303
    stolen = client.cookies[SESSION_COOKIE]
    copy = TestClient(web.app)
    copy.cookies.set(SESSION_COOKIE, stolen)
    assert copy.get("/api/history").json()["user"] == ALICE
    assert client.post("/logout").status_code == 303
    assert copy.get("/api/history").status_code == 401  # the copy is revoked on the server, not just deleted
    # Also for a server restarted with the same secret (the revocation is stored).
    restarted = TestClient(make_web(web_auth_header=None).app)
    restarted.cookies.set(SESSION_COOKIE, stolen)
    assert restarted.get("/api/history").status_code == 401
    # Signing in again gives a new session that works.
    assert client.post("/login", data={"email": ALICE, "next": "/"}).status_code == 303
    assert client.get("/api/history").json()["user"] == ALICE


class Regrouped:
    """The real KuraApp, but people can leave groups: ``left`` principals are taken away from everyone."""

    def __init__(self, kura) -> None:
        self._kura = kura
        self.left: set[str] = set()

    def __getattr__(self, name):
        return getattr(self._kura, name)

    def principals_for(self, user):
        return [p for p in self._kura.principals_for(user) if p not in self.left]


def test_someone_removed_from_a_group_no_longer_reads_restricted_answers_in_their_conversations(web_kura, tmp_path):
    kura = Regrouped(web_kura)
    settings = clean_settings(data_dir=tmp_path / "data", web_auth_header="X-Forwarded-Email",
                              web_base_url="http://kura.test")
    app = create_app(kura, settings, feedback=FeedbackStore(tmp_path / "f.sqlite"),
                     conversations=ConversationStore(tmp_path / "c.sqlite"))
    client = TestClient(app)
    first = client.post("/api/ask", json={"question": EXPENSE_Q}, headers=as_user(ALICE)).json()
    cid = first["conversation_id"]
    salary = client.post("/api/ask", json={"question": SALARY_Q, "conversation_id": cid}, headers=as_user(ALICE)).json()
    restricted = salary["answer"]["answer"]
    assert SALARIES_ID in [s["document_id"] for s in salary["answer"]["sources"]]  # cites the finance-only page
    token = client.post(f"/api/conversations/{cid}/share", headers=as_user(ALICE)).json()["url"].rsplit("/", 1)[1]
    assert client.get(f"/api/shared/{token}", headers=as_user(ALICE)).status_code == 200

    kura.left = {"group:finance"}  # Aiko leaves finance
    stored = client.get(f"/api/conversations/{cid}", headers=as_user(ALICE))
    assert stored.status_code == 200
    turns = stored.json()["turns"]
    assert [t["question"] for t in turns] == [EXPENSE_Q, SALARY_Q]
    assert "department head" in turns[0]["answer"]["answer"].lower()  # the public answer stays
    assert turns[1]["answer"]["answer"] != restricted and turns[1]["answer"]["sources"] == []
    assert SALARIES_ID not in stored.text
    assert "can no longer read" in turns[1]["answer"]["answer"]
    # Her own share link no longer opens for her either (the owner path checks like everyone else's).
    refused = client.get(f"/api/shared/{token}", headers=as_user(ALICE))
    assert refused.status_code == 403 and SALARIES_ID not in refused.text
    # A follow-up does not carry the hidden answer into the question's history.
    history = app.state.web.chat.start(ALICE, cid)[1]
    assert restricted not in str(history)
    # Carol, still in finance, may read the shared conversation.
    kura.left = set()
    shared = client.get(f"/api/shared/{token}", headers=as_user(CAROL)).json()
    assert shared["turns"][1]["answer"]["answer"] == restricted


def test_error_messages_do_not_show_server_paths():
    message = user_message(StoreError("path already contains segment data: /srv/kura/data/index/gen-000002"))
    assert "/srv" not in message and "segment data" in message and "gen-000002" in message


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_conversations_feedback_sessions_and_the_export_are_private(tmp_path, web_kura):
    old = os.umask(0o022)  # the usual umask: without care, files would be 0644 and directories 0755
    try:
        data = tmp_path / "data"
        settings = clean_settings(data_dir=data, web_auth_header=None, web_session_secret="s")
        from bots.app import KuraApp

        data.mkdir()  # an existing data directory, 0755 as an earlier version (or `kura ingest`) left it
        assert mode(data) == 0o755
        KuraApp(settings)  # tightens the data directory itself
        app = create_app(web_kura, settings)  # its conversation, feedback and session stores under data/
        client = TestClient(app, follow_redirects=False)
        client.post("/login", data={"email": ALICE, "next": "/"})
        answer = client.post("/api/ask", json={"question": EXPENSE_Q}).json()
        client.post("/api/feedback", json={"answer_id": answer["answer_id"], "helpful": True})
        client.post("/logout")
        exported = data / "eval" / "feedback.jsonl"
        assert FeedbackStore.from_settings(settings).export(exported) == 1
    finally:
        os.umask(old)
    assert mode(data) == 0o700 and mode(data / "web") == 0o700 and mode(data / "eval") == 0o700
    for name in ("web/conversations.sqlite", "feedback.sqlite", "web/sessions.sqlite", "eval/feedback.jsonl"):
        assert mode(data / name) == 0o600, name
    for wal in data.rglob("*-wal"):
        assert mode(wal) == 0o600, wal
