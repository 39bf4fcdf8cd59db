"""The insight page in a real headless Chromium: an admin signs in and reads the grouped unanswered questions.

Leaves a screenshot for a human to look at: /tmp/kura-insights.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bots.web.conftest import ALICE, BOB, CAROL, ServerThread
from tests.bots.web.test_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401 - the browser fixture

SCREENSHOT = Path("/tmp/kura-insights.png")
FUJI = ["How tall is Mount Fuji in winter?", "How tall is Mount Fuji in winter?", "how tall is mount fuji in the winter"]
PARKING = ["Where do visitors park their bicycles overnight?", "Where can visitors park bicycles overnight?"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


def test_admin_reads_grouped_unanswered_questions_in_a_real_browser(make_web, web_kura, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web = make_web(web_auth_header=None, admin_principals=[ALICE])
    # What people asked (through the real answerer), as the chat records it.
    for user, question in [(BOB, q) for q in FUJI] + [(CAROL, q) for q in PARKING] + [
            (BOB, "Who has to approve an expense report over 50,000 yen?")]:
        answer = web_kura.ask(question, principals=web_kura.principals_for(user), surface="web")
        answer_id = web.feedback.record_answer(answer, user=user, surface="web")
        if not answer.abstained:
            web.feedback.record_feedback(answer_id, user=user, helpful=True)
        elif "bicycles" in question:
            web.feedback.record_feedback(answer_id, user=user, helpful=False, reason="We need a bicycle policy")

    wait = WebDriverWait(browser, 20)
    with ServerThread(web.app) as server:
        browser.get(server.url + "/insights")
        wait.until(lambda d: "/login" in d.current_url)
        browser.find_element(By.ID, "email").send_keys(ALICE)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "unanswered"))

        groups = browser.find_elements(By.CSS_SELECTOR, "#unanswered .group")
        heads = [(g.find_element(By.CSS_SELECTOR, ".count").text, g.find_element(By.CSS_SELECTOR,
                  ".group-question").text) for g in groups]
        assert heads == [("3×", FUJI[0]), ("2×", PARKING[0])]
        assert PARKING[1] in groups[1].text  # the other wording of the same question
        assert "Closest documents:" in groups[0].text
        assert browser.find_element(By.ID, "total-answers").text == "6"
        assert browser.find_element(By.ID, "total-abstain").text == "83%"
        assert "We need a bicycle policy" in browser.find_element(By.ID, "not-helpful").text
        bars = browser.find_elements(By.CSS_SELECTOR, ".chart-volume rect.bar")
        assert len(bars) == 30 and float(bars[-1].get_attribute("height")) > 0
        browser.set_window_size(1280, 1700)  # the whole page in the screenshot
        browser.save_screenshot(str(SCREENSHOT))
        logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert logs == []  # no CSP violation, no missing file
