"""The right outcome per question (answered + gold + cited gold document, or abstained), leaks, accuracy per kind."""

from __future__ import annotations

import json
from types import SimpleNamespace

from core.types import Answer, AnswerSentence, Source
from eval.datasets import EvalExample, Evidence, load_dataset
from eval.kinds import judge_outcome, per_kind, readable_by

DOCS = {"confluence:1": ("public",), "confluence:2": ("public",), "gdocs:secret": ("group:finance",)}
ANYONE = readable_by(("public",), DOCS)
FINANCE = readable_by(("public", "group:finance"), DOCS)


def _answer(*, cited=(), listed=(), abstained=False) -> Answer:
    docs = [*cited, *listed]
    sources = tuple(Source(n, d, f"c{n}", d, "", "") for n, d in enumerate(docs, 1))
    sentences = (AnswerSentence("text", tuple(range(1, len(cited) + 1))),) if cited else ()
    return Answer("q", "not found" if abstained else "text", sentences, sources, abstained, "extractive")


ANSWERABLE = EvalExample(id="a", question="q", answers=("30 days",), evidence=(Evidence("confluence:1"),))
NEAR_MISS = EvalExample(id="n", question="q", answerable=False)
DENIED = EvalExample(id="d", question="q", answers=("KIRIN-26",), evidence=(Evidence("gdocs:secret"),), answerable=False)


def test_an_answerable_question_needs_the_gold_string_and_a_cited_gold_document():
    assert judge_outcome(ANSWERABLE, _answer(cited=["confluence:1"]), 1.0, ANYONE).correct
    assert not judge_outcome(ANSWERABLE, _answer(cited=["confluence:2"]), 1.0, ANYONE).correct  # right words, wrong page
    # listed but not cited does not count as citing it
    assert not judge_outcome(ANSWERABLE, _answer(cited=["confluence:2"], listed=["confluence:1"]), 1.0, ANYONE).correct
    assert not judge_outcome(ANSWERABLE, _answer(cited=["confluence:1"]), 0.0, ANYONE).correct
    assert not judge_outcome(ANSWERABLE, _answer(listed=["confluence:1"], abstained=True), None, ANYONE).correct


def test_an_unanswerable_question_is_right_when_it_abstained():
    assert judge_outcome(NEAR_MISS, _answer(listed=["confluence:2"], abstained=True), None, ANYONE).correct
    assert not judge_outcome(NEAR_MISS, _answer(cited=["confluence:2"]), None, ANYONE).correct


def test_any_listed_source_the_asker_may_not_read_is_a_leak_even_in_an_abstention():
    leaked = judge_outcome(DENIED, _answer(listed=["confluence:2", "gdocs:secret"], abstained=True), None, ANYONE)
    assert leaked.leaked == ("gdocs:secret",) and not leaked.correct
    assert judge_outcome(DENIED, _answer(listed=["confluence:2"], abstained=True), None, ANYONE).correct
    # the same source is no leak for someone allowed to read it
    allowed = EvalExample(id="al", question="q", answers=("KIRIN-26",), evidence=(Evidence("gdocs:secret"),))
    outcome = judge_outcome(allowed, _answer(cited=["gdocs:secret"]), 1.0, FINANCE)
    assert outcome.correct and outcome.leaked == ()
    # a document the dataset does not know is never taken as readable
    assert not readable_by(("public",), DOCS)("confluence:999")


def test_per_kind_counts_accuracy_leaks_and_languages():
    def q(kind, language, correct, leaked=()):
        return SimpleNamespace(kind=kind, language=language, correct=correct, leaked=leaked)

    table = per_kind([q("near_miss", "en", True), q("near_miss", "ja", False), q("near_miss", "ja", True),
                      q("restricted_denied", "en", False, ("gdocs:secret",)), q("", "en", True), q("paraphrase", "en", None)])  # fmt: skip
    assert set(table) == {"near_miss", "restricted_denied"}  # no kind / not judged: left out
    assert table["near_miss"]["questions"] == 3 and abs(table["near_miss"]["accuracy"] - 2 / 3) < 1e-9
    assert table["near_miss"]["by_language"]["ja"] == {"questions": 2, "correct": 1, "accuracy": 0.5}
    assert table["restricted_denied"]["leaks"] == 1 and table["restricted_denied"]["accuracy"] == 0.0


def test_the_kind_is_read_from_kura_jsonl(tmp_path):
    path = tmp_path / "set.jsonl"
    records = [{"document": {"id": "d", "text": "Hotels up to 150 EUR."}},
               {"id": "q1", "question": "Hotel cap?", "answers": ["150 EUR"], "relevant_document_ids": ["d"], "kind": "paraphrase"},
               {"id": "q2", "question": "Parking?", "answer": None, "relevant_document_ids": []}]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    q1, q2 = load_dataset(path).examples
    assert q1.kind == "paraphrase" and q2.kind == "" and not q2.answerable


def test_reports_show_a_kind_table_only_for_runs_with_kinds(tmp_path):
    from eval.report import write_reports
    from tests.eval.test_report import RESULTS

    kinded = {**RESULTS, "runs": [{**RESULTS["runs"][0], "per_kind": {"near_miss": {
        "questions": 4, "correct": 3, "accuracy": 0.75, "leaks": 1,
        "by_language": {"en": {"questions": 2, "correct": 2, "accuracy": 1.0}, "ja": {"questions": 2, "correct": 1, "accuracy": 0.5}}}}},
        RESULTS["runs"][1]]}  # fmt: skip
    md, html = write_reports(kinded, tmp_path / "kinded")
    assert "| tokens | bm25 | 0.750 3/4 (en 2/2, ja 1/2), 1 leaked |" in md.read_text(encoding="utf-8")
    assert "<th>near_miss</th>" in html.read_text(encoding="utf-8")
    md, _ = write_reports(RESULTS, tmp_path / "plain")
    assert "per question kind" not in md.read_text(encoding="utf-8")
