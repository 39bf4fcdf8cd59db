"""FeedbackStore: answers and verdicts stored durably, only the asker rates, JSONL export for eval."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import sqlite3

import pytest
from typer.testing import CliRunner

from bots.feedback import EXPORT_FORMAT, FeedbackNotAllowedError, FeedbackStore, UnknownAnswerError
from core.types import Answer, AnswerSentence, Chunk, ScoredChunk, Source


def _chunk(doc: str, ordinal: int, text: str) -> Chunk:
    return Chunk(doc, ordinal, text, text, (), 10, "tokens", ("public",), doc.title(), f"https://x/{doc}", "sample")


def make_answer(question: str = "How many vacation days?") -> Answer:
    a = _chunk("sample:leave", 0, "Employees get 25 vacation days.")
    b = _chunk("sample:leave", 1, "Unused days carry over.")
    c = _chunk("sample:travel", 0, "Book trains.")
    retrieved = (ScoredChunk(a, 0.9), ScoredChunk(c, 0.5), ScoredChunk(b, 0.4))
    return Answer(
        question=question,
        text="Employees get 25 vacation days. [1]",
        sentences=(AnswerSentence("Employees get 25 vacation days.", (1,), 0.8, True),),
        sources=(
            Source(1, a.document_id, a.id, a.title, a.url, a.text, "sample"),
            Source(2, c.document_id, c.id, c.title, c.url, c.text, "sample"),
        ),
        abstained=False,
        answerer="extractive",
        retrieved=retrieved,
        prompt_version="v3",
        model="m1",
        timings_ms={"retrieve": 12.5},
    )


def test_answer_round_trips_with_everything_eval_needs(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    answer = make_answer()
    answer_id = store.record_answer(answer, user="alice@example.com", surface="slack", conversation_id="C1:1.0")

    record = store.get_answer(answer_id)
    assert record.user == "alice@example.com" and record.surface == "slack" and record.conversation_id == "C1:1.0"
    assert record.answer == answer.to_dict()  # text, sentences with support, sources, timings, prompt version
    assert [r["chunk_id"] for r in record.retrieved] == [h.chunk.id for h in answer.retrieved]
    assert record.feedback is None
    assert store.get_answer("nope") is None


def test_only_the_asker_may_rate_and_unknown_ids_are_refused(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    answer_id = store.record_answer(make_answer(), user="alice@example.com", surface="web")
    with pytest.raises(FeedbackNotAllowedError):
        store.record_feedback(answer_id, user="mallory@example.com", helpful=False)
    with pytest.raises(UnknownAnswerError):
        store.record_feedback("missing", user="alice@example.com", helpful=True)
    with pytest.raises(ValueError):
        store.record_feedback(answer_id, user="alice@example.com", helpful="yes")  # type: ignore[arg-type]
    assert store.get_answer(answer_id).feedback is None

    store.record_feedback(answer_id, user="alice@example.com", helpful=False, reason="  outdated policy ")
    # A later click flips the verdict but keeps the reason given earlier.
    store.record_feedback(answer_id, user="alice@example.com", helpful=True)
    feedback = store.get_answer(answer_id).feedback
    assert (feedback.helpful, feedback.reason, feedback.user) == (True, "outdated policy", "alice@example.com")


def test_export_writes_one_line_per_rated_answer(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite")
    rated = store.record_answer(make_answer("Q one?"), user="alice@example.com", surface="slack")
    store.record_answer(make_answer("Q unrated?"), user="bob@example.com", surface="web")
    store.record_feedback(rated, user="alice@example.com", helpful=False, reason="wrong number")

    out = tmp_path / "out" / "feedback.jsonl"
    assert store.export(out) == 1
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    line = lines[0]
    answer = make_answer()
    assert line["format"] == EXPORT_FORMAT
    assert (line["question"], line["helpful"], line["reason"], line["user"]) == (
        "Q one?", False, "wrong number", "alice@example.com"
    )
    assert line["prompt_version"] == "v3" and line["model"] == "m1"
    assert line["retrieved_chunk_ids"] == [h.chunk.id for h in answer.retrieved]
    assert line["retrieved_document_ids"] == ["sample:leave", "sample:travel"]
    assert line["cited_chunk_ids"] == [answer.sources[0].chunk_id]  # source 2 was listed but not cited
    assert line["cited_document_ids"] == ["sample:leave"]
    assert line["cited"] == [1] and line["asker"] == "alice@example.com"
    assert not (out.parent / "feedback.jsonl.tmp").exists()


def _record_many(path, user, n):
    store = FeedbackStore(path)
    for i in range(n):
        answer_id = store.record_answer(make_answer(f"{user} {i}?"), user=user, surface="web")
        store.record_feedback(answer_id, user=user, helpful=i % 2 == 0)


def test_two_processes_write_at_once_without_losing_anything(tmp_path):
    path = tmp_path / "fb.sqlite"
    FeedbackStore(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(path, user, 40)) for user in ("web", "slack")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sum(1 for _ in FeedbackStore(path).rated_answers()) == 80
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cli_export(tmp_path, monkeypatch):
    from bots.cli.main import app

    monkeypatch.setenv("KURA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    result = runner.invoke(app, ["feedback", "export"])
    assert result.exit_code != 0 and "no feedback yet" in str(result.exception)

    store = FeedbackStore(tmp_path / "data" / "feedback.sqlite")
    answer_id = store.record_answer(make_answer(), user="alice@example.com", surface="slack")
    store.record_feedback(answer_id, user="alice@example.com", helpful=True)
    out = tmp_path / "ds.jsonl"
    result = runner.invoke(app, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 1 rated answers" in result.output
    assert json.loads(out.read_text(encoding="utf-8"))["id"] == answer_id

    default = runner.invoke(app, ["feedback", "export"])
    assert default.exit_code == 0
    assert (tmp_path / "data" / "eval" / "feedback.jsonl").exists()


def test_the_export_keeps_who_may_read_each_shown_source(tmp_path):
    """A viewer or an eval can filter exported answers by the access of the documents they show."""
    store = FeedbackStore(tmp_path / "fb.sqlite")
    answer = make_answer()
    restricted = dataclasses.replace(answer.retrieved[0].chunk, principals=("group:finance", "bob@example.com"))
    answer = dataclasses.replace(answer, retrieved=(ScoredChunk(restricted, 0.9), *answer.retrieved[1:]))
    rated = store.record_answer(answer, user="alice@example.com", surface="web")
    store.record_feedback(rated, user="alice@example.com", helpful=True)
    out = tmp_path / "feedback.jsonl"
    store.export(out)
    line = json.loads(out.read_text(encoding="utf-8"))
    assert [s["principals"] for s in line["sources"]] == [["group:finance", "bob@example.com"], ["public"]]
    assert line["source_principals"] == [["group:finance", "bob@example.com"], ["public"]]
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
