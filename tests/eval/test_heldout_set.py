"""The held-out question set (questions-heldout.jsonl) passes the same checks as the answerability set.

It is the honest check for issue 10: written from the documents only, never run through an answerer while the
answerability model was designed. The checks are those of ``test_answerability_set`` (called, not copied), plus
two of its own: it shares no question with the development sets, and the term each near miss hinges on is in no
document (so a later document that answers one makes this fail instead of silently scoring abstentions as wrong).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from eval.datasets import load_dataset
from tests.eval import test_answerability_set as development_checks

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "sample_corpus"
SET = SAMPLE / "questions-heldout.jsonl"
DEVELOPMENT_SETS = ("questions-answerability.jsonl", "questions.jsonl")
# The fact each near miss asks for hinges on one term that no document holds.
ABSENT_TERMS = {
    "ho-near-en-01": "HoshiOS 7.5",
    "ho-near-en-02": "Amsterdam",
    "ho-near-en-03": "Rhein",
    "ho-near-en-04": "INC-2026-009",
    "ho-near-ja-01": "横浜",
    "ho-near-ja-05": "介護",
    "ho-near-ja-06": "住宅手当",
    "ho-near-ja-07": "Android",
}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(SET, docs="sample")


def _questions(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {unicodedata.normalize("NFKC", json.loads(line)["question"]).strip() for line in lines if line.strip()}


def test_size_kinds_and_languages(dataset):
    development_checks.test_size_kinds_and_languages(dataset)


def test_restricted_questions_come_in_pairs(dataset):
    development_checks.test_restricted_questions_come_in_pairs_asked_by_someone_who_may_not_read_and_someone_who_may(dataset)


def test_every_gold_string_is_in_a_gold_document(dataset):
    assert not {e.id for e in dataset.examples} & development_checks.COMPUTED  # no exemptions in this set
    development_checks.test_every_gold_string_but_the_computed_ones_is_in_a_gold_document(dataset)


def test_cross_language_questions_are_answered_only_by_documents_of_the_other_language(dataset):
    development_checks.test_cross_language_questions_are_answered_only_by_documents_of_the_other_language(dataset)


def test_askers_are_people_of_the_directory(dataset):
    people = {line for line in (SAMPLE / "identities.yaml").read_text(encoding="utf-8").split() if "@" in line}
    for line in SET.read_text(encoding="utf-8").splitlines():
        asker = json.loads(line)["asker"]
        assert asker is None or asker in people


def test_no_question_is_copied_from_the_development_sets():
    held_out = _questions(SET)
    for name in DEVELOPMENT_SETS:
        assert not held_out & _questions(SAMPLE / name), name


def test_near_miss_terms_are_in_no_document(dataset):
    near_misses = {e.id: e for e in dataset.examples if e.kind == "near_miss"}
    assert set(ABSENT_TERMS) <= set(near_misses)
    texts = [unicodedata.normalize("NFKC", d.text).lower() for d in dataset.documents]
    for question_id, term in ABSENT_TERMS.items():
        assert term.lower() in near_misses[question_id].question.lower(), question_id
        assert not any(term.lower() in text for text in texts), (question_id, term)
