"""Kura JSONL and feedback export: documents, quoted evidence turned into spans, ratings read as labels."""

from __future__ import annotations

import json

import pytest

from core.errors import EvalError
from eval.datasets import load_dataset
from eval.feedback import HELPFUL, NOT_HELPFUL


def _write(path, *records):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


TRAVEL = {"document": {"id": "hr-travel", "title": "Travel", "text": "Book trains in Navan.\n\nHotels up to 150 EUR."}}
PAGE = {"document": {"id": "confluence:42", "title": "VPN", "text": "Use GlobalProtect for the VPN.", "principals": ["g-it"]}}


def test_questions_with_ids_and_quoted_evidence(tmp_path):
    path = _write(
        tmp_path / "set.jsonl",
        TRAVEL,
        PAGE,
        {"id": "q1", "question": "Hotel limit?", "answers": ["150 EUR"], "relevant": [{"document_id": "hr-travel", "text": "Hotels up to 150 EUR."}]},
        {"question": "Which VPN client?", "relevant_ids": ["confluence:42"], "asker": "bob@example.com"},
        {"id": "q3", "question": "Parking?", "answerable": False},
    )
    dataset = load_dataset(path)
    assert {d.id for d in dataset.documents} == {"eval:hr-travel", "confluence:42"}
    q1, q2, q3 = dataset.examples
    travel = next(d for d in dataset.documents if d.id == "eval:hr-travel")
    start, end = q1.evidence[0].answer_spans[0]
    assert travel.text[start:end] == "Hotels up to 150 EUR."
    assert q2.id == "line4" and q2.asker == "bob@example.com" and q2.evidence[0].document_id == "confluence:42"
    assert q2.evidence[0].answer_spans == ()  # any chunk of the page is relevant
    assert not q3.answerable and dataset.has_unanswerable
    assert next(d for d in dataset.documents if d.id == "confluence:42").principals == ("g-it",)


def test_documents_can_come_from_a_separate_file(tmp_path):
    docs = _write(tmp_path / "docs.jsonl", TRAVEL)
    path = _write(tmp_path / "q.jsonl", {"question": "Trains?", "relevant_ids": ["hr-travel"]})
    assert load_dataset(path, docs=docs).examples[0].evidence[0].document_id == "eval:hr-travel"


def test_feedback_records_become_labelled_examples(tmp_path):
    path = _write(
        tmp_path / "feedback.jsonl",
        TRAVEL,
        {
            "id": "fb1",
            "question": "Hotel limit?",
            "answer": "Hotels up to 150 EUR [1].",
            "rating": "up",
            "sources": [{"number": 1, "document_id": "hr-travel"}, {"number": 2, "document_id": "confluence:42"}],
            "cited": [1],
            "asker": "amy@example.com",
        },
        {"question": "Trains?", "answer": "I could not find this.", "helpful": False, "sources": []},
        PAGE,
        {
            "format": "kura-feedback/1",
            "id": "fb3",
            "question": "Parking?",
            "answer": "I could not find this.",
            "abstained": True,
            "helpful": True,
        },
        {"id": "fb4", "question": "VPN?", "answer": "GlobalProtect [1].", "helpful": True, "cited_document_ids": ["confluence:42"]},
    )
    helpful, unhelpful, right_abstention, exported = load_dataset(path).examples
    assert not right_abstention.answerable and right_abstention.evidence == ()
    assert [e.document_id for e in exported.evidence] == ["confluence:42"]
    assert helpful.label == HELPFUL and helpful.reference_answer == "Hotels up to 150 EUR [1]."
    assert [e.document_id for e in helpful.evidence] == ["eval:hr-travel"]  # only the cited source
    assert unhelpful.label == NOT_HELPFUL and unhelpful.evidence == () and unhelpful.id.startswith("fb-")


@pytest.mark.parametrize(
    "records, message",
    [
        ([{"question": "x"}], "has no corpus"),
        ([TRAVEL], "holds no questions"),
        ([TRAVEL, {"question": "x", "relevant_ids": ["nope"]}], "'nope' is not in the corpus"),
        ([TRAVEL, {"question": "x", "relevant": [{"text": "not there"}]}], "quoted evidence is in no document"),
        ([TRAVEL, {"question": "", "relevant_ids": ["hr-travel"]}], "non-empty 'question'"),
        ([TRAVEL, {"question": "x", "rating": "meh"}], "unknown feedback rating"),
        ([{"document": {"title": "no id"}}], "needs an 'id' and a 'text'"),
    ],
)
def test_bad_lines_name_the_problem(tmp_path, records, message):
    with pytest.raises(EvalError, match=message):
        load_dataset(_write(tmp_path / "bad.jsonl", *records))


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(TRAVEL) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(EvalError, match=r"broken.jsonl:2: not valid JSON"):
        load_dataset(path)


def test_the_sample_corpus_questions_load_with_its_documents_and_directory():
    from ingest.connectors.sample import SAMPLE_DIR

    dataset = load_dataset(SAMPLE_DIR / "questions.jsonl", docs="sample")
    assert len(dataset.examples) == 30 and len(dataset.documents) >= 30
    ids = {d.id for d in dataset.documents}
    assert all(e.document_id in ids for x in dataset.examples for e in x.evidence)
    first = dataset.examples[0]
    assert first.answers == ("Department head",) and first.answerable
    assert any(not e.answerable and not e.evidence for e in dataset.examples)  # "answer": null
    marco = dataset.principals_for("marco.rossi@hoshi-robotics.example")
    assert "public" in marco and "user:marco.rossi@hoshi-robotics.example" in marco
    assert dataset.principals_for("nobody@example.com") is None


def test_documents_from_a_folder_of_files(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "travel.md").write_text("# Travel\n\nHotels up to 150 EUR.\n", encoding="utf-8")
    from eval.corpus import load_corpus

    corpus = load_corpus(folder)
    [doc] = corpus.documents
    path = _write(tmp_path / "q.jsonl", {"question": "Hotel limit?", "answer": "150 EUR", "relevant_document_ids": [doc.id]})
    assert load_dataset(path, docs=folder).examples[0].evidence[0].document_id == doc.id
    with pytest.raises(EvalError, match="documents not found"):
        load_corpus(tmp_path / "missing")
