"""Durable record of every answer Kura gave and every Helpful / Not helpful verdict on it.

Each surface (Slack bot, web chat) calls ``record_answer`` when it shows an
answer and ``record_feedback`` when the person who asked clicks a button. The
rated answers export as an eval dataset, so real users' verdicts become
regression tests.

Storage: one SQLite file (default ``settings.data_dir / "feedback.sqlite"``) in
WAL mode with a busy timeout, opened per operation, so the web app and the
Slack bot (two processes, several threads each) can write to it at once.

Export format (``kura feedback export``, ``FeedbackStore.export``): JSON Lines,
UTF-8, one object per *rated* answer, oldest first::

    {
      "format": "kura-feedback/1",
      "id": "9f0c...",                   # stable id of the stored answer
      "question": "How many vacation days do I get?",
      "answer": "Full-time employees get 25 days [1].",
      "abstained": false,                # true when Kura said it could not find it
      "helpful": true,                   # the user's verdict
      "reason": null,                    # optional free text given with the verdict
      "user": "alice@example.com",       # who asked and rated (email, or slack:<id> when unmapped)
      "asker": "alice@example.com",      # the same, under the name eval/feedback.py reads
      "surface": "slack",                # "slack" | "web" | ...
      "conversation_id": "C1:1700.1",    # thread / conversation, or null
      "asked_at": "2026-01-05T10:00:00+00:00",
      "rated_at": "2026-01-05T10:01:00+00:00",
      "answerer": "extractive", "model": "", "prompt_version": "",
      "retrieved_chunk_ids": ["..."],    # in rank order, what the answerer was given
      "retrieved_document_ids": ["..."], # distinct, in rank order
      "cited_chunk_ids": ["..."],        # chunks of the sources the answer cites
      "cited_document_ids": ["..."],
      "cited": [1],                      # numbers of the cited sources (as eval/feedback.py reads them)
      "sentences": [{"text": "...", "citations": [1], "support": 1.0, "supported": true}],
      "sources": [{"number": 1, "title": "...", "url": "...", "document_id": "...", "chunk_id": "...", "source": "...",
                   "principals": ["group:finance"]}],   # who could read that source when the answer was given
      "source_principals": [["group:finance"]]  # one list per shown source: a reader may see this answer only
                                                # with a principal of every list (null where not recorded)
    }

The export file is created 0600 (it quotes restricted answers), like feedback.sqlite.

A helpful, non-abstained line says "these cited documents answer this
question"; a not-helpful line marks a question whose answer needs fixing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bots.private_files import open_private, private_dir, private_file
from core.errors import KuraError
from core.types import Answer

EXPORT_FORMAT = "kura-feedback/1"
MAX_REASON_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    user TEXT NOT NULL,
    surface TEXT NOT NULL,
    conversation_id TEXT,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    retrieved_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers (conversation_id);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY REFERENCES answers (id),
    user TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    reason TEXT,
    rated_at TEXT NOT NULL
);
"""


class FeedbackError(KuraError):
    """Feedback could not be recorded."""


class UnknownAnswerError(FeedbackError):
    """No answer with this id was recorded."""


class FeedbackNotAllowedError(FeedbackError):
    """Only the person who received an answer may rate it."""


@dataclass(frozen=True)
class Feedback:
    """One verdict on an answer."""

    user: str
    helpful: bool
    reason: str | None
    rated_at: str


@dataclass(frozen=True)
class AnswerRecord:
    """A stored answer: who got it where, the answer in ``Answer.to_dict`` form, what was retrieved, its verdict."""

    id: str
    user: str
    surface: str
    conversation_id: str | None
    created_at: str
    answer: dict[str, Any]
    retrieved: list[dict[str, Any]]
    feedback: Feedback | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _retrieved(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"chunk_id": hit.chunk.id, "document_id": hit.chunk.document_id, "score": hit.score,
         "principals": list(hit.chunk.principals)}
        for hit in answer.retrieved
    ]


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class FeedbackStore:
    """Answers and verdicts in SQLite; see the module docstring for the export format."""

    def __init__(self, path: Path) -> None:
        self.path = private_file(Path(path))  # it holds restricted answers: 0600, like its -wal/-shm files
        with self._db() as db:
            # WAL lets readers and one writer from different processes proceed without blocking each other.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def from_settings(cls, settings) -> "FeedbackStore":
        return cls(settings.data_dir / "feedback.sqlite")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.execute("PRAGMA busy_timeout = 30000")
            yield db

    def record_answer(
        self, answer: Answer, *, user: str, surface: str, conversation_id: str | None = None
    ) -> str:
        """Store an answer shown to ``user`` on ``surface``; returns its id (put it on the feedback buttons)."""
        if not user or not surface:
            raise ValueError("record_answer needs the user and the surface")
        answer_id = uuid.uuid4().hex
        with self._db() as db:
            db.execute(
                "INSERT INTO answers (id, created_at, user, surface, conversation_id, question, answer_json,"
                " retrieved_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    _now(),
                    user,
                    surface,
                    conversation_id,
                    answer.question,
                    json.dumps(answer.to_dict(), ensure_ascii=False),
                    json.dumps(_retrieved(answer)),
                ),
            )
        return answer_id

    def record_feedback(self, answer_id: str, *, user: str, helpful: bool, reason: str | None = None) -> None:
        """Store (or replace) the verdict of the person who got the answer; anyone else is refused."""
        if not isinstance(helpful, bool):
            raise ValueError("helpful must be true or false")
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise ValueError(f"the reason is longer than {MAX_REASON_CHARS} characters")
        with self._db() as db:
            row = db.execute("SELECT user, surface FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if row is None:
                raise UnknownAnswerError(f"no answer with id {answer_id!r}")
            if row[0] != user:
                raise FeedbackNotAllowedError("only the person who asked can rate this answer")
            before = db.execute("SELECT helpful FROM feedback WHERE answer_id = ?", (answer_id,)).fetchone()
            db.execute(
                "INSERT INTO feedback (answer_id, user, helpful, reason, rated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (answer_id) DO UPDATE SET helpful = excluded.helpful,"
                " reason = COALESCE(excluded.reason, feedback.reason), rated_at = excluded.rated_at",
                (answer_id, user, int(helpful), reason, _now()),
            )
        if before is None or bool(before[0]) != helpful:  # adding a reason later is not another verdict
            from bots.metrics import METRICS  # on first use: the CLI never pays for prometheus-client

            METRICS.verdict(row[1], helpful)

    def get_answer(self, answer_id: str) -> AnswerRecord | None:
        """The stored answer with its verdict, or None."""
        with self._db() as db:
            row = db.execute(
                "SELECT a.id, a.user, a.surface, a.conversation_id, a.created_at, a.answer_json, a.retrieved_json,"
                " f.user, f.helpful, f.reason, f.rated_at"
                " FROM answers a LEFT JOIN feedback f ON f.answer_id = a.id WHERE a.id = ?",
                (answer_id,),
            ).fetchone()
        return self._record(row) if row else None

    def rated_answers(self) -> Iterator[AnswerRecord]:
        """Every answer that has a verdict, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT a.id, a.user, a.surface, a.conversation_id, a.created_at, a.answer_json, a.retrieved_json,"
                " f.user, f.helpful, f.reason, f.rated_at"
                " FROM answers a JOIN feedback f ON f.answer_id = a.id ORDER BY a.created_at, a.rowid"
            ).fetchall()
        for row in rows:
            yield self._record(row)

    def answers_since(self, since: str) -> Iterator[AnswerRecord]:
        """Every answer given at or after ``since`` (ISO time), rated or not, oldest first (the insight page)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT a.id, a.user, a.surface, a.conversation_id, a.created_at, a.answer_json, a.retrieved_json,"
                " f.user, f.helpful, f.reason, f.rated_at"
                " FROM answers a LEFT JOIN feedback f ON f.answer_id = a.id WHERE a.created_at >= ?"
                " ORDER BY a.created_at, a.rowid",
                (since,),
            ).fetchall()
        for row in rows:
            yield self._record(row)

    def export(self, out_path: Path) -> int:
        """Write the rated answers as the JSONL eval dataset; returns how many lines were written.

        Written to a temporary file first, so an interrupted export never leaves a truncated dataset behind.
        """
        out_path = Path(out_path)
        private_dir(out_path.parent)
        tmp = out_path.with_name(out_path.name + ".tmp")
        count = 0
        with open_private(tmp, "w", encoding="utf-8") as out:  # restricted answers: 0600 from the first byte
            for record in self.rated_answers():
                out.write(json.dumps(export_line(record), ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, out_path)
        return count

    @staticmethod
    def _record(row: tuple) -> AnswerRecord:
        answer_id, user, surface, conversation_id, created_at, answer_json, retrieved_json = row[:7]
        f_user, helpful, reason, rated_at = row[7:]
        feedback = Feedback(f_user, bool(helpful), reason, rated_at) if f_user is not None else None
        return AnswerRecord(
            answer_id, user, surface, conversation_id, created_at,
            json.loads(answer_json), json.loads(retrieved_json), feedback,
        )


def export_line(record: AnswerRecord) -> dict[str, Any]:
    """One line of the eval dataset (see the module docstring)."""
    answer = record.answer
    sources = answer.get("sources", [])
    cited_numbers = {n for s in answer.get("sentences", []) for n in s.get("citations", [])}
    cited = [s for s in sources if s["number"] in cited_numbers]
    feedback = record.feedback
    # Who may read each shown source, as it was when the answer was given (older records lack it: None).
    principals_of = {r["chunk_id"]: r.get("principals") for r in record.retrieved}
    shown = [{**{k: v for k, v in s.items() if k != "snippet"}, "principals": principals_of.get(s["chunk_id"])}
             for s in sources]
    return {
        "format": EXPORT_FORMAT,
        "id": record.id,
        "question": answer.get("question", ""),
        "answer": answer.get("answer", ""),
        "abstained": answer.get("abstained", False),
        "helpful": feedback.helpful if feedback else None,
        "reason": feedback.reason if feedback else None,
        "user": record.user,
        "asker": record.user,
        "surface": record.surface,
        "conversation_id": record.conversation_id,
        "asked_at": record.created_at,
        "rated_at": feedback.rated_at if feedback else None,
        "answerer": answer.get("answerer", ""),
        "model": answer.get("model", ""),
        "prompt_version": answer.get("prompt_version", ""),
        "retrieved_chunk_ids": [r["chunk_id"] for r in record.retrieved],
        "retrieved_document_ids": _distinct([r["document_id"] for r in record.retrieved]),
        "cited_chunk_ids": _distinct([s["chunk_id"] for s in cited]),
        "cited_document_ids": _distinct([s["document_id"] for s in cited]),
        "cited": sorted(cited_numbers),
        "sentences": answer.get("sentences", []),
        "sources": shown,
        "source_principals": [s["principals"] for s in shown],
    }
