"""Feedback becomes a regression set: `kura reindex --full` will not switch to an index that answers rated
questions worse, and `kura eval run --dataset feedback` runs the set on demand."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bots.app import KuraApp
from bots.cli.main import app
from bots.cli.reindex import EXIT_WORSE
from bots.feedback import FeedbackStore
from bots.job_state import JobStateFile
from core.settings import Settings

USER = "aiko.tanaka@hoshi-robotics.example"
PAGES = {
    "expenses": ("Expense reports", "Expense reports over 50,000 yen need the department head's approval before "
                 "payment."),
    "vpn": ("VPN", "Connect with Hoshi Connect before you open the intranet from a hotel or a café."),
    "badges": ("Badges", "Contractors return their badge to reception on the last day of their contract."),
    "printers": ("Printers", "Print to Hoshi-SecurePrint and release the job at any printer with your office badge."),
}
QUESTION = "Who approves expense reports over 50,000 yen?"


@pytest.fixture
def cli(tmp_path, monkeypatch, embedder):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name, (title, sentence) in PAGES.items():
        (corpus / f"{name}.md").write_text(f"# {title}\n\n{sentence}\n\nAsk the office team for help.\n",
                                           encoding="utf-8")
    env = {"KURA_DATA_DIR": str(tmp_path / "data"), "KURA_INGEST_PATHS": json.dumps([str(corpus)]),
           "KURA_PROGRESS_INTERVAL_S": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(KuraApp, "embedder", property(lambda self: embedder))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    run.corpus = corpus
    run.settings = Settings(_env_file=None)  # from the environment just set, as the CLI reads it
    return run


def rate_helpful(settings: Settings, question: str) -> str:
    """Ask as USER and rate the answer helpful, as the web chat does."""
    with KuraApp(settings) as kura:
        answer = kura.ask(question, principals=kura.principals_for(USER), surface="web")
    assert not answer.abstained and answer.cited_sources
    feedback = FeedbackStore.from_settings(settings)
    answer_id = feedback.record_answer(answer, user=USER, surface="web")
    feedback.record_feedback(answer_id, user=USER, helpful=True)
    return answer_id


def test_a_rebuild_that_loses_a_helpful_answers_document_is_not_switched(cli):
    assert cli("reindex").exit_code == 0
    answer_id = rate_helpful(cli.settings, QUESTION)

    # Nothing changed: the rebuild passes the regression set and serves.
    same = cli("reindex", "--full", "--json")
    assert same.exit_code == 0, same.output
    summary = json.loads(same.stdout.strip().splitlines()[-1])
    assert summary["switched"] and summary["worse_questions"] == []
    on_demand = cli("eval", "run", "--dataset", "feedback")
    assert on_demand.exit_code == 0 and "1 questions, pass rate 1.000, 0 failing" in on_demand.output

    # The document behind the helpful answer is gone: the rebuild is refused, naming the question.
    (cli.corpus / "expenses.md").unlink()
    refused = cli("reindex", "--full")
    assert refused.exit_code == EXIT_WORSE, refused.output
    assert "NOT switched" in refused.output and "answers got worse" in refused.output
    assert answer_id in refused.output and QUESTION in refused.output
    assert "expenses.md no longer retrieved" in refused.output
    with KuraApp(cli.settings) as kura:  # the old index still serves and still answers
        assert not kura.ask(QUESTION, principals=kura.principals_for(USER)).abstained

    assert cli("eval", "run", "--dataset", "feedback").exit_code == 0  # the serving index still passes

    # --force switches anyway; its results become the baseline, so the next rebuild is not refused for it.
    forced = cli("reindex", "--full", "--force")
    assert forced.exit_code == 0, forced.output
    failing = cli("eval", "run", "--dataset", "feedback")
    assert failing.exit_code == 1 and f"worse: {answer_id}" in failing.output
    again = cli("reindex", "--full")
    assert again.exit_code == 0, again.output  # no longer worse than the (new) serving index


def test_the_reindex_job_records_per_source_figures(cli):
    assert cli("reindex").exit_code == 0
    (cli.corpus / "vpn.md").unlink()
    (cli.corpus / "new.md").write_text("# Parking\n\nVisitors park in the east lot.\n", encoding="utf-8")
    assert cli("reindex", "--full").exit_code == 0
    files = JobStateFile.in_state_dir(cli.settings.state_dir).read()["reindex"]["files"]
    assert (files["added"], files["updated"], files["deleted"], files["failed"]) == (len(PAGES) + 1, 0, 1, 0)
    assert files["runs"] == 2 and files["last_success"] == files["last_run"]


class FixedRunner:
    """Stands in for the retrieval run (not the subject here): returns a report decided in advance."""

    def __init__(self, report):
        self.report = report

    def run(self, items):
        return self.report


def test_the_margin_and_questions_rated_since_the_last_switch(tmp_path):
    from bots.regression import BaselineFile, FeedbackGate, ItemResult, RegressionReport, compare

    report = RegressionReport([ItemResult("a", "helpful", "Who approves?", False, missing_documents=["files:x"]),
                               ItemResult("b", "helpful", "VPN?", True),
                               ItemResult("c", "review", "Parking?", None, reason="wrong")])
    # Rated since the last switch (not in the baseline): it passed on the serving index, where it was rated.
    result = compare(report, {})
    assert [r.id for r in result.worse] == ["a"] and (result.before, result.after) == (1.0, 0.5)
    assert compare(report, {"a": False}).worse == []  # it failed there already: not worse

    baseline = BaselineFile(tmp_path / "baseline.json")
    refused = FeedbackGate([], lambda store, pipeline: FixedRunner(report), baseline, margin=0.4)(None, None)
    assert len(refused.problems) == 1 and "a 'Who approves?': cited files:x no longer retrieved" in refused.problems[0]
    allowed = FeedbackGate([], lambda store, pipeline: FixedRunner(report), baseline, margin=0.6)(None, None)
    assert allowed.problems == [] and len(allowed.worse) == 1
    allowed.accept("gen-1")
    assert baseline.read() == {"a": False, "b": True}  # the review item is not a pass or a fail
