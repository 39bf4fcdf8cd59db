"""The sample corpus's answerability question set is what its README says: kinds, languages, askers, gold."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from eval.datasets import load_dataset
from retrieval.tokenize import has_japanese

SET = Path(__file__).resolve().parents[2] / "ingest" / "sample_corpus" / "questions-answerability.jsonl"
KINDS = {"paraphrase", "cross_language", "multi_step", "near_miss", "restricted_denied", "restricted_allowed", "short_misspelled"}
# Gold strings that need arithmetic over the documents, so no document holds them verbatim.
COMPUTED = {"multi-ja-04"}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(SET, docs="sample")


def _flat(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).replace("**", "").split())


def test_size_kinds_and_languages(dataset):
    examples = dataset.examples
    assert len(examples) >= 60
    assert set(Counter(e.kind for e in examples)) == KINDS
    languages = Counter("ja" if has_japanese(e.question) else "en" for e in examples)
    assert abs(languages["ja"] - languages["en"]) <= 0.15 * len(examples)


def test_restricted_questions_come_in_pairs_asked_by_someone_who_may_not_read_and_someone_who_may(dataset):
    by_id = {e.id: e for e in dataset.examples}
    documents = {d.id: d for d in dataset.documents}
    denied = [e for e in dataset.examples if e.kind == "restricted_denied"]
    assert denied
    for question in denied:
        allowed = by_id[question.id.replace("-denied", "-allowed")]
        assert allowed.question == question.question and allowed.kind == "restricted_allowed"
        assert not question.answerable and allowed.answerable
        for doc_id in {e.document_id for e in question.evidence}:
            principals = set(documents[doc_id].principals)
            assert "public" not in principals
            denied_grants = set(dataset.principals_for(question.asker) or ("public",)) if question.asker else {"public"}
            assert not principals & denied_grants, question.id
            assert principals & set(dataset.principals_for(allowed.asker)), allowed.id


def test_every_gold_string_but_the_computed_ones_is_in_a_gold_document(dataset):
    documents = {d.id: _flat(d.text) for d in dataset.documents}
    for e in dataset.examples:
        if e.kind == "near_miss":
            assert not e.answers and not e.evidence and not e.answerable
            continue
        assert e.answers and e.evidence, e.id
        if e.id in COMPUTED:
            continue
        assert any(_flat(a) in documents[ev.document_id] for a in e.answers for ev in e.evidence), e.id


def test_cross_language_questions_are_answered_only_by_documents_of_the_other_language(dataset):
    documents = {d.id: d for d in dataset.documents}
    for e in dataset.examples:
        if e.kind != "cross_language":
            continue
        asked_in_japanese = has_japanese(e.question.replace("INC-", ""))
        for ev in e.evidence:
            body = documents[ev.document_id].text
            # a Japanese page is mostly kana/kanji; an English one has none beyond a few quoted terms
            japanese_share = sum(has_japanese(ch) for ch in body) / len(body)
            assert (japanese_share > 0.2) != asked_in_japanese, e.id


def test_askers_are_people_of_the_directory():
    people = {line for line in (SET.parent / "identities.yaml").read_text(encoding="utf-8").split() if "@" in line}
    for line in SET.read_text(encoding="utf-8").splitlines():
        asker = json.loads(line)["asker"]
        assert asker is None or asker in people
