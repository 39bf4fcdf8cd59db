"""Who sees what in the web chat: sign-in, own conversations only, readable documents only, share links."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bots.cli.serve import check_exposure
from bots.web.auth import SESSION_COOKIE
from core.errors import ConfigError

from tests.bots.web.conftest import ALICE, BOB, CAROL, SALARIES_ID, as_user, clean_settings

EXPENSE_Q = "Who has to approve an expense report over 50,000 yen?"
SALARY_Q = "2026年度の給与バンドの改定コードは何ですか？"


def ask(client, user, question, conversation_id=None):
    response = client.post("/api/ask", json={"question": question, "conversation_id": conversation_id}, headers=as_user(user))
    assert response.status_code == 200, response.text
    return response.json()


def share_token(client, user, conversation_id) -> str:
    response = client.post(f"/api/conversations/{conversation_id}/share", headers=as_user(user))
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith("http://kura.test/s/")
    return url.rsplit("/", 1)[1]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "/api/history", None),
        ("post", "/api/ask", {"question": "Who approves expenses?"}),
        ("post", "/api/stream", {"question": "Who approves expenses?"}),
        ("post", "/api/feedback", {"answer_id": "x", "helpful": True}),
        ("get", "/api/conversations/abc", None),
        ("post", "/api/conversations/abc/share", None),
        ("get", "/api/shared/abc", None),
    ],
)
def test_api_without_identity_is_401(make_web, method, path, body):
    client = TestClient(make_web().app)
    response = getattr(client, method)(path, **({"json": body} if body else {}))
    assert response.status_code == 401
    assert response.json() == {"error": "sign in to use Kura", "status": 401}
    # A header that is not an email is no identity either.
    response = getattr(client, method)(path, headers={"X-Forwarded-Email": "not an email"}, **({"json": body} if body else {}))
    assert response.status_code == 401


def test_health_needs_no_identity(make_web, web_kura):
    response = TestClient(make_web().app).get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "index_chunks": web_kura.store.count()}


def test_pages_without_identity(make_web):
    sso = TestClient(make_web().app, follow_redirects=False)
    page = sso.get("/")
    assert page.status_code == 401 and "single sign-on" in page.text and "text/html" in page.headers["content-type"]
    assert sso.get("/login").status_code == 404  # no local login behind the SSO proxy

    local = TestClient(make_web(web_auth_header=None).app, follow_redirects=False)
    page = local.get("/c/some-conversation")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/c/some-conversation"


def test_local_login_sets_a_signed_session(make_web):
    client = TestClient(make_web(web_auth_header=None).app, follow_redirects=False)
    form = client.get("/login?next=/c/abc")
    assert form.status_code == 200 and "for running Kura on your" in form.text and 'value="/c/abc"' in form.text

    bad = client.post("/login", data={"email": "nobody", "next": "/"})
    assert bad.status_code == 400 and "Enter an email address" in bad.text
    assert SESSION_COOKIE not in client.cookies

    ok = client.post("/login", data={"email": " Aiko.Tanaka@Hoshi-Robotics.example ", "next": "//evil.example.com/x"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never redirected off-site
    assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=lax" in ok.headers["set-cookie"].lower()
    assert client.get("/api/history").json()["user"] == ALICE
    # The X-Forwarded-Email header means nothing without SSO configured.
    assert client.get("/api/history", headers=as_user(BOB)).json()["user"] == ALICE

    forged = TestClient(make_web(web_auth_header=None).app)
    forged.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE].replace("a", "b", 1) + "x")
    assert forged.get("/api/history").status_code == 401
    other_secret = TestClient(make_web(web_auth_header=None, web_session_secret="another").app)
    other_secret.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert other_secret.get("/api/history").status_code == 401

    assert client.post("/logout").status_code == 303
    assert client.get("/api/history").status_code == 401


def test_each_user_sees_only_their_own_conversations(make_web):
    client = TestClient(make_web().app)
    mine = ask(client, ALICE, EXPENSE_Q)
    theirs = ask(client, BOB, "When does the release train leave?")

    alice_history = client.get("/api/history", headers=as_user(ALICE)).json()
    assert [c["id"] for c in alice_history["conversations"]] == [mine["conversation_id"]]
    assert alice_history["conversations"][0]["title"] == EXPENSE_Q
    assert [c["id"] for c in client.get("/api/history", headers=as_user(BOB)).json()["conversations"]] == [
        theirs["conversation_id"]
    ]

    cid = mine["conversation_id"]
    assert client.get(f"/api/conversations/{cid}", headers=as_user(ALICE)).json()["turns"][0]["question"] == EXPENSE_Q
    # Bob can neither read, continue, nor share Alice's conversation; it looks just like a missing one.
    for response in (
        client.get(f"/api/conversations/{cid}", headers=as_user(BOB)),
        client.post("/api/ask", json={"question": "and then?", "conversation_id": cid}, headers=as_user(BOB)),
        client.post("/api/stream", json={"question": "and then?", "conversation_id": cid}, headers=as_user(BOB)),
        client.post(f"/api/conversations/{cid}/share", headers=as_user(BOB)),
        client.get("/api/conversations/does-not-exist", headers=as_user(BOB)),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "conversation not found"
    assert client.get(f"/api/conversations/{cid}", headers=as_user(ALICE)).json()["turns"][0]["question"] == EXPENSE_Q


def test_follow_up_questions_continue_the_conversation(make_web):
    client = TestClient(make_web().app)
    first = ask(client, ALICE, EXPENSE_Q)
    second = ask(client, ALICE, "Within how many days must I file an expense?", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    turns = client.get(f"/api/conversations/{first['conversation_id']}", headers=as_user(ALICE)).json()["turns"]
    assert [t["question"] for t in turns] == [EXPENSE_Q, "Within how many days must I file an expense?"]
    assert "30 days" in turns[1]["answer"]["answer"]


def test_answers_use_only_documents_the_asker_may_read(make_web):
    client = TestClient(make_web().app)
    alice = ask(client, ALICE, SALARY_Q)["answer"]
    assert not alice["abstained"] and "KIRIN-26" in alice["answer"]
    assert alice["sources"][0]["document_id"] == SALARIES_ID

    bob = ask(client, BOB, SALARY_Q)["answer"]
    assert "KIRIN" not in bob["answer"]
    assert SALARIES_ID not in {s["document_id"] for s in bob["sources"]}


def test_share_refused_when_the_viewer_may_not_read_a_cited_source(make_web):
    client = TestClient(make_web().app)
    answer = ask(client, ALICE, EXPENSE_Q)
    ask(client, ALICE, SALARY_Q, answer["conversation_id"])  # now it also cites the finance-only page
    token = share_token(client, ALICE, answer["conversation_id"])

    refused = client.get(f"/api/shared/{token}", headers=as_user(BOB))
    assert refused.status_code == 403
    assert refused.json()["error"] == "This conversation cites documents you do not have access to."
    page = client.get(f"/s/{token}", headers=as_user(BOB))
    assert page.status_code == 403 and "KIRIN" not in page.text and "給与" not in page.text

    # Another member of finance may read it; so may the owner.
    for user in (CAROL, ALICE):
        shared = client.get(f"/api/shared/{token}", headers=as_user(user))
        assert shared.status_code == 200
        assert [t["question"] for t in shared.json()["turns"]] == [EXPENSE_Q, SALARY_Q]


def test_share_of_public_answers_is_readable_until_revoked(make_web):
    client = TestClient(make_web().app)
    answer = ask(client, ALICE, EXPENSE_Q)
    token = share_token(client, ALICE, answer["conversation_id"])
    assert share_token(client, ALICE, answer["conversation_id"]) == token  # sharing twice: the same link

    shared = client.get(f"/api/shared/{token}", headers=as_user(BOB))
    assert shared.status_code == 200
    turn = shared.json()["turns"][0]
    assert turn["answer"]["answer"] == answer["answer"]["answer"] and turn["feedback"] is None
    page = client.get(f"/s/{token}", headers=as_user(BOB))
    assert page.status_code == 200 and "Department head" in page.text
    assert 'href="#src-' in page.text
    assert 'href="https://hoshi-robotics.atlassian.example/wiki/spaces/FIN/pages/1001"' in page.text

    assert client.delete(f"/api/conversations/{answer['conversation_id']}/share", headers=as_user(ALICE)).status_code == 200
    assert client.get(f"/api/shared/{token}", headers=as_user(BOB)).status_code == 404
    assert client.get("/api/shared/made-up-token", headers=as_user(BOB)).status_code == 404


def test_share_refused_when_a_cited_source_left_the_index(make_web):
    web = make_web()
    client = TestClient(web.app)
    answer = ask(client, ALICE, EXPENSE_Q)
    stale = dict(answer["answer"])
    stale["sources"] = [{**stale["sources"][0], "chunk_id": "00000000-0000-0000-0000-000000000000"}]
    web.conversations.add_turn(ALICE, answer["conversation_id"], "old question", stale, None)
    token = share_token(client, ALICE, answer["conversation_id"])
    refused = client.get(f"/api/shared/{token}", headers=as_user(BOB))
    assert refused.status_code == 403 and "changed or been removed" in refused.json()["error"]


def test_shared_page_escapes_document_text(make_web):
    client = TestClient(make_web().app)
    answer = ask(client, BOB, "When does the release train leave?")
    assert answer["answer"]["sources"][0]["title"] == "Release notes <b>v2</b>"
    page = client.get(f"/s/{share_token(client, BOB, answer['conversation_id'])}", headers=as_user(ALICE))
    assert page.status_code == 200
    assert "Release notes &lt;b&gt;v2&lt;/b&gt;" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self': no inline script
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_serve_refuses_password_less_login_on_a_network_interface():
    with pytest.raises(ConfigError, match="KURA_WEB_AUTH_HEADER"):
        check_exposure(clean_settings(web_host="0.0.0.0"))
    check_exposure(clean_settings(web_host="127.0.0.1"))
    check_exposure(clean_settings(web_host="0.0.0.0", web_auth_header="X-Forwarded-Email"))
    check_exposure(clean_settings(web_host="0.0.0.0", web_allow_remote_login=True))


def test_conversation_ids_are_unguessable(make_web):
    client = TestClient(make_web().app)
    ids = {ask(client, ALICE, EXPENSE_Q)["conversation_id"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)
