"""Dataset loaders: gold spans land on the answer text in both corpus modes, and bad input is refused clearly."""

from __future__ import annotations

import json

import pytest

from core.errors import EvalError
from eval.datasets import load_dataset, load_squad
from tests.eval.conftest import TINY_SQUAD, write_json


def _spans_hit_answers(dataset):
    docs = {d.id: d for d in dataset.documents}
    for example in dataset.examples:
        for evidence in example.evidence:
            text = docs[evidence.document_id].text
            for start, end in evidence.answer_spans:
                assert text[start:end] in example.answers
            s, e = evidence.sentence_span
            assert s <= evidence.answer_spans[0][0] and evidence.answer_spans[0][1] <= e


def test_article_mode_makes_one_document_per_article_with_spans_into_its_text(tiny_squad):
    dataset = load_squad(tiny_squad, corpus="article")
    assert [d.title for d in dataset.documents] == ["Remote work", "Expenses"]
    assert len(dataset.documents[0].sections) == 2
    assert dataset.language == "en"
    _spans_hit_answers(dataset)
    # the second paragraph's answer is offset by the first paragraph and the blank line between them
    rw2 = next(e for e in dataset.examples if e.id == "rw2")
    first_paragraph = TINY_SQUAD["data"][0]["paragraphs"][0]["context"]
    assert rw2.evidence[0].answer_spans[0][0] == len(first_paragraph) + 2 + 55


def test_paragraph_mode_makes_one_document_per_paragraph(tiny_squad):
    dataset = load_squad(tiny_squad, corpus="paragraph")
    assert len(dataset.documents) == 3
    _spans_hit_answers(dataset)
    assert {e.evidence[0].document_id for e in dataset.examples if e.answerable} == {
        "eval:a0p0",
        "eval:a0p1",
        "eval:a1p0",
    }


def test_squad_v2_unanswerable_questions_have_no_evidence(tiny_squad):
    dataset = load_squad(tiny_squad)
    rw3 = next(e for e in dataset.examples if e.id == "rw3")
    assert not rw3.answerable and rw3.evidence == () and rw3.answers == ()
    assert dataset.has_unanswerable


def test_jsquad_separator_becomes_a_title_line_and_offsets_follow(tiny_jsquad):
    dataset = load_squad(tiny_jsquad, corpus="article")
    doc = dataset.documents[0]
    assert "[SEP]" not in doc.text
    assert doc.text.startswith("梅雨\n梅雨は、")
    assert dataset.language == "ja"
    _spans_hit_answers(dataset)
    # an answer inside the title keeps its offset
    j2 = next(e for e in dataset.examples if e.id == "j2")
    assert j2.evidence[0].answer_spans == ((0, 2),)


def test_an_answer_offset_that_is_slightly_off_is_found_nearby(tmp_path):
    data = json.loads(json.dumps(TINY_SQUAD))
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 70
    dataset = load_squad(write_json(tmp_path / "off.json", data))
    ex1 = next(e for e in dataset.examples if e.id == "ex1")
    text = dataset.documents[1].text
    start, end = ex1.evidence[0].answer_spans[0]
    assert text[start:end] == "Concur"


def test_a_question_whose_answer_is_not_in_its_context_is_skipped_and_noted(tmp_path):
    data = json.loads(json.dumps(TINY_SQUAD))
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["text"] = "SAP"
    dataset = load_squad(write_json(tmp_path / "bad.json", data))
    assert "ex1" not in {e.id for e in dataset.examples}
    assert dataset.notes == ["1 questions skipped: gold answer not found in its context"]


def test_sample_is_reproducible_and_keeps_the_corpus(tiny_squad):
    dataset = load_squad(tiny_squad)
    a, b = dataset.sample(2, seed=7), dataset.sample(2, seed=7)
    assert [e.id for e in a.examples] == [e.id for e in b.examples]
    assert len(a.examples) == 2 and a.documents == dataset.documents
    with pytest.raises(EvalError, match="--limit"):
        dataset.sample(0)


@pytest.mark.parametrize(
    "content, message",
    [("not json", "not SQuAD-format"), ('{"data": []}', "holds no questions"), ('{"rows": []}', "'data' list")],
)
def test_bad_squad_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalError, match=message):
        load_squad(path)


def test_missing_dataset_and_bad_corpus_mode_are_clear_errors(tmp_path, tiny_squad):
    with pytest.raises(EvalError, match="dataset not found"):
        load_dataset(tmp_path / "nope.json")
    with pytest.raises(EvalError, match="unknown corpus mode"):
        load_squad(tiny_squad, corpus="sentence")


def test_real_jsquad_every_answer_span_lands_on_its_answer(jsquad_path):
    for corpus in ("article", "paragraph"):
        dataset = load_squad(jsquad_path, corpus=corpus)
        assert len(dataset.examples) == 4442 and dataset.notes == []
        assert len(dataset.documents) == (59 if corpus == "article" else 1145)
        _spans_hit_answers(dataset)
