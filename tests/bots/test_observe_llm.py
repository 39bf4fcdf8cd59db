"""Metrics of LLM answers: per-stage LLM timings, what verification changed, and the fallback outcome."""

from __future__ import annotations

from bots.app import KuraApp
from bots.metrics import METRICS
from prometheus_client import generate_latest

from tests.bots.metrics_scrape import moved, parse_metrics
from tests.bots.test_ask_llm import QUESTION, data_dir, fake, settings_for  # noqa: F401 - fixtures

CHECKED = ("Employees may work remotely up to 3 days per week [1][7]. "
           "Every employee also gets a free lunch on Fridays [1].")


def scrape() -> dict:
    return parse_metrics(generate_latest(METRICS.registry).decode())


def test_verification_counts_and_llm_stages(data_dir, fake, embedder):  # noqa: F811
    fake.script(CHECKED)
    before = scrape()
    with KuraApp(settings_for(data_dir, fake), embedder=embedder) as kura:
        *_, answer = kura.ask_stream(QUESTION, principals=["public"], surface="web")
    assert answer.answerer == "llm" and not answer.abstained
    assert answer.checks == {"citations_removed": 1, "sentences_unverified": 1, "sentences_dropped": 0}
    after = scrape()
    assert moved(after, before, "kura_verification_total", check="citations_removed") == 1
    assert moved(after, before, "kura_verification_total", check="sentences_unverified") == 1
    assert moved(after, before, "kura_answers_total", surface="web", outcome="answered") == 1
    assert moved(after, before, "kura_stage_seconds_count", stage="llm_first_token") == 1
    assert moved(after, before, "kura_stage_seconds_count", stage="llm_total") == 1


def test_an_unavailable_llm_is_a_fallback(data_dir, fake, embedder):  # noqa: F811
    fake.stop()
    before = scrape()
    with KuraApp(settings_for(data_dir, fake), embedder=embedder) as kura:
        answer = kura.ask(QUESTION, principals=["public"], surface="slack")
        kura.ask(QUESTION, principals=["public"])  # the CLI's: not counted (no one scrapes a `kura ask` process)
    assert answer.answerer == "extractive" and "unavailable" in answer.notice
    after = scrape()
    assert moved(after, before, "kura_answers_total", surface="slack", outcome="fallback") == 1
    assert moved(after, before, "kura_answers_total", surface="slack", outcome="answered") == 0
    assert moved(after, before, "kura_questions_total", surface="cli") == 0
