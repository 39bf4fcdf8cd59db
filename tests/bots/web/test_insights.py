"""The insight page: admins only, unanswered questions grouped with counts, titles only where the viewer may read."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bots.insights import group_questions
from bots.job_state import JobStateFile

from tests.bots.web.conftest import ALICE, BOB, CAROL, as_user

SALARY_TITLE = "給与バンド表 2026年度"  # group:finance only
SALARY_Q = "給与バンド表の改定コードは何ですか？"
FUJI = ["How tall is Mount Fuji in winter?", "how tall is mount fuji in the winter", "How tall is Mount Fuji in winter?"]
PARKING = "Where do visitors park their bicycles overnight?"


def ask(client, user, question) -> dict:
    response = client.post("/api/ask", json={"question": question}, headers=as_user(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_similar_questions_group_and_different_ones_do_not():
    questions = ["How do I reset my VPN password?", "vpn password reset", "How do I reset the VPN password",
                 "What is the parking policy for visitors?", "経費精算の締め切りはいつですか", "経費精算の締め切りは？"]
    groups = group_questions(questions)
    assert sorted(map(sorted, groups)) == [[0, 1, 2], [3], [4, 5]]


def test_non_admins_get_403_and_admins_see_the_page(make_web):
    web = make_web(admin_principals=["group:finance"])
    client = TestClient(web.app)
    assert client.get("/insights", headers=as_user(BOB)).status_code == 403
    assert client.get("/api/insights", headers=as_user(BOB)).status_code == 403
    assert client.get("/api/insights").status_code == 401
    page = client.get("/insights", headers=as_user(ALICE))
    assert page.status_code == 200 and "<h1>Insights</h1>" in page.text
    # A bare email in the setting works too.
    web = make_web(admin_principals=[BOB])
    assert TestClient(web.app).get("/api/insights", headers=as_user(BOB)).status_code == 200


def test_unanswered_questions_are_grouped_with_counts(make_web):
    web = make_web(admin_principals=[ALICE])
    client = TestClient(web.app)
    for question in FUJI:
        assert ask(client, BOB, question)["answer"]["abstained"]
    assert ask(client, CAROL, PARKING)["answer"]["abstained"]
    ask(client, BOB, "Who has to approve an expense report over 50,000 yen?")  # answered: not listed

    report = client.get("/api/insights", headers=as_user(ALICE)).json()
    groups = [(g["count"], g["questions"]) for g in report["unanswered"]]
    assert groups == [(3, [FUJI[0], FUJI[1]]), (1, [PARKING])]
    assert report["unanswered"][0]["closest"]  # the documents Kura came closest with
    today = report["days"][-1]
    assert (today["answers"], today["abstained"]) == (5, 4)
    assert client.get("/insights", headers=as_user(ALICE)).text.count('class="group"') == 2


def test_an_admin_never_sees_a_title_they_may_not_read(make_web):
    web = make_web(admin_principals=[BOB, CAROL])
    client = TestClient(web.app)
    answer = ask(client, ALICE, SALARY_Q)  # Alice (finance) gets the salary page cited
    assert any(SALARY_TITLE in s["title"] for s in answer["answer"]["sources"])
    client.post("/api/feedback", json={"answer_id": answer["answer_id"], "helpful": False, "reason": "too long"},
                headers=as_user(ALICE))
    JobStateFile.in_state_dir(web.settings.state_dir).record(
        "sync", {"confluence": {"added": 2, "failed": 1, "failures": [{"source_id": "77", "reason": "HTTP 500"}]}},
        succeeded=["confluence"])

    # Bob is an admin but not in finance: he sees the question and the reason, never the title.
    bob_json = client.get("/api/insights", headers=as_user(BOB))
    bob_page = client.get("/insights", headers=as_user(BOB))
    for text in (bob_json.text, bob_page.text):
        assert SALARY_TITLE not in text
        assert SALARY_Q in text and "too long" in text
    (item,) = bob_json.json()["not_helpful"]
    assert item["sources"] == [] and item["hidden_documents"] == 1
    assert "1 you may not read" in bob_page.text
    assert "HTTP 500" in bob_page.text  # per-source status with the failed document

    # Carol (finance, admin) may read it, so she sees it.
    assert SALARY_TITLE in client.get("/insights", headers=as_user(CAROL)).text
