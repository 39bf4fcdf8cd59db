"""The web chat in a real headless Chromium: sign in, ask, watch the answer arrive, open a citation, send feedback.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
Leaves screenshots for a human to look at: /tmp/kura-web.png (desktop, English and
Japanese), /tmp/kura-web-not-found.png (not-found answer, escaped markup) and
/tmp/kura-web-mobile.png (narrow screen).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bots.web.conftest import ALICE, ServerThread

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = Path("/tmp/kura-web.png")
SCREENSHOT_MOBILE = Path("/tmp/kura-web-mobile.png")
SCREENSHOT_NOT_FOUND = Path("/tmp/kura-web-not-found.png")
EXPENSE_Q = "Who has to approve an expense report over 50,000 yen?"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000", "--lang=en-US",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_ask_stream_cite_and_rate_in_a_real_browser(make_web, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    web = make_web(web_auth_header=None)  # the local login form, as on a laptop
    wait = WebDriverWait(browser, 20)
    find = browser.find_element

    def answers_done(count):
        return wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '.answer[aria-busy="false"]')) >= count)

    def answer_id_of(answer_element):
        """The stored id of the answer shown in this element (its feedback buttons carry it)."""
        return answer_element.find_element(By.CSS_SELECTOR, ".feedback").get_attribute("data-answer-id")

    def ask(question):
        box = find(By.ID, "question")
        box.send_keys(question)
        box.send_keys(Keys.ENTER)

    with ServerThread(web.app) as server:
        browser.get(server.url + "/")
        wait.until(lambda d: "/login" in d.current_url)
        find(By.ID, "email").send_keys(ALICE)
        find(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "question"))
        assert find(By.CSS_SELECTOR, ".who .user").text == ALICE

        # Ask: the streamed answer arrives with its citation and sources.
        ask(EXPENSE_Q)
        answers_done(1)
        answer = find(By.CSS_SELECTOR, "#turns .turn:last-child .answer")
        assert "Department head" in answer.find_element(By.CSS_SELECTOR, ".answer-text").text
        assert answer.get_attribute("aria-live") == "polite"
        assert answer.find_element(By.CSS_SELECTOR, ".sources-heading").text == "Sources"
        source = answer.find_element(By.CSS_SELECTOR, ".source")
        assert "Expense reimbursement policy" in source.text and "Confluence" in source.text
        passage = source.find_element(By.CSS_SELECTOR, ".passage")
        assert not passage.is_displayed()  # folded until the citation is clicked
        assert "/c/" in browser.current_url

        # Click the citation: the cited passage shows, with a link that opens the source.
        cite = answer.find_element(By.CSS_SELECTOR, "button.cite")
        assert cite.text == "[1]"
        cite.click()
        wait.until(lambda d: passage.is_displayed())
        stored = web.feedback.get_answer(answer_id_of(answer)).answer["sources"][0]
        assert " ".join(passage.text.split()) == " ".join(stored["snippet"].split()) != ""
        assert cite.get_attribute("aria-expanded") == "true"
        link = source.find_element(By.CSS_SELECTOR, "a.source-link")
        assert link.get_attribute("href") == "https://hoshi-robotics.atlassian.example/wiki/spaces/FIN/pages/1001"
        assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")

        # Feedback: Helpful, then an optional reason; both stored.
        answer.find_element(By.CSS_SELECTOR, 'button[data-helpful="true"]').click()
        status = answer.find_element(By.CSS_SELECTOR, ".feedback-status")
        wait.until(lambda d: "saved" in status.text)
        answer_id = answer_id_of(answer)
        assert web.feedback.get_answer(answer_id).feedback.helpful is True
        reason = answer.find_element(By.CSS_SELECTOR, ".reason input")
        reason.send_keys("Clear and quick")
        reason.send_keys(Keys.ENTER)
        wait.until(lambda d: "reason were saved" in status.text)
        assert web.feedback.get_answer(answer_id).feedback.reason == "Clear and quick"

        # Japanese: answer marked lang="ja"; the citation works from the keyboard.
        ask("経費精算申請書はいつまでに提出する必要がありますか？")
        answers_done(2)
        ja = find(By.CSS_SELECTOR, "#turns .turn:last-child .answer")
        assert ja.get_attribute("lang") == "ja" and "30日以内" in ja.text
        ja_cite = ja.find_elements(By.CSS_SELECTOR, "button.cite")[-1]
        ja_cite.send_keys(Keys.ENTER)  # buttons, so Tab and Enter work without a mouse
        ja_passage = ja.find_element(By.CSS_SELECTOR, f"#{ja_cite.get_attribute('aria-controls')} .passage")
        wait.until(lambda d: ja_passage.is_displayed())
        assert "経費精算" in ja_passage.text
        browser.set_window_size(1280, 1700)  # tall enough for the English and the Japanese answer
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(SCREENSHOT))
        browser.set_window_size(1280, 1000)

        # Not found: said plainly, with the closest documents instead of sources.
        ask("How tall is Mount Fuji in winter?")
        answers_done(3)
        missing = find(By.CSS_SELECTOR, "#turns .turn:last-child .answer")
        assert "not-found" in missing.get_attribute("class")
        assert missing.find_element(By.CSS_SELECTOR, ".answer-text").text == "I could not find this in the documents you can access."
        assert missing.find_element(By.CSS_SELECTOR, ".sources-heading").text == "Closest documents"
        assert missing.find_elements(By.CSS_SELECTOR, ".source") and not missing.find_elements(By.CSS_SELECTOR, "button.cite")

        # Document text is text: a title with markup shows literally.
        ask("When does the release train leave?")
        answers_done(4)
        titles = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#turns .turn:last-child .source .title")]
        assert "Release notes <b>v2</b>" in titles
        assert not browser.find_elements(By.CSS_SELECTOR, ".source .title b")
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        browser.save_screenshot(str(SCREENSHOT_NOT_FOUND))

        # History: the conversation is listed, and reopening it restores its turns and the verdict.
        history = browser.find_elements(By.CSS_SELECTOR, "#history-list a")
        assert [h.text for h in history] == [EXPENSE_Q]
        browser.get(browser.current_url)
        answers_done(4)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#turns .turn")) == 4
        first = browser.find_element(By.CSS_SELECTOR, "#turns .turn:first-child")
        assert first.find_element(By.CSS_SELECTOR, 'button[data-helpful="true"]').get_attribute("aria-pressed") == "true"

        # Narrow screen: conversations fold away behind a toggle, and the page does not scroll sideways.
        browser.set_window_size(390, 844)
        assert not find(By.ID, "history-list").is_displayed()
        find(By.ID, "toggle-history").click()
        assert find(By.ID, "history-list").is_displayed()
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        browser.save_screenshot(str(SCREENSHOT_MOBILE))

        problems = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert problems == []  # no script errors, no content-security-policy violations
