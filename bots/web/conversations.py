"""Web chat conversations: each user's questions and answers, kept in SQLite under the data directory.

A conversation belongs to exactly one user; every read takes the owner and
behaves as if someone else's conversation did not exist (so ids cannot be
probed). A share token makes a conversation readable through a link, subject
to the permission check in ``bots/web/sharing.py``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bots.private_files import private_file
from core.errors import KuraError

_TITLE_CHARS = 80


class ConversationNotFound(KuraError):
    """No such conversation, or it belongs to someone else (the two are deliberately indistinguishable)."""


@dataclass(frozen=True)
class Turn:
    """One question and the answer Kura gave (``answer`` is ``Answer.to_dict()``)."""

    id: int
    question: str
    answer: dict[str, Any]
    answer_id: str | None
    created_at: str


@dataclass(frozen=True)
class Conversation:
    """A conversation's header and, when loaded in full, its turns in order."""

    id: str
    owner: str
    title: str
    created_at: str
    updated_at: str
    share_token: str | None = None
    turn_count: int = 0
    turns: tuple[Turn, ...] = field(default=())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_conversation_id() -> str:
    """An unguessable id: knowing one conversation's id says nothing about another's."""
    return secrets.token_urlsafe(12)


class ConversationStore:
    """Conversations and their turns, per user, with share tokens."""

    def __init__(self, path: Path) -> None:
        self.path = private_file(Path(path))  # it holds restricted answers: 0600, like its -wal/-shm files
        with self._db() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS conversations (
                    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
                    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, share_token TEXT UNIQUE);
                CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated_at);
                CREATE TABLE IF NOT EXISTS turns (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    conversation_id TEXT NOT NULL REFERENCES conversations (id),
                    question TEXT NOT NULL, answer TEXT NOT NULL, answer_id TEXT, created_at TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation_id, id);
                """
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: safe from any request thread; ``with db`` commits or rolls back.
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            db.row_factory = sqlite3.Row
            yield db

    # --- writing ---------------------------------------------------------------------
    def add_turn(
        self, owner: str, conversation_id: str, question: str, answer: dict[str, Any], answer_id: str | None
    ) -> int:
        """Append a turn, creating the conversation on its first turn; returns the turn id."""
        now = _now()
        with self._db() as db:
            row = db.execute("SELECT owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                title = " ".join(question.split())[:_TITLE_CHARS] or "Untitled"
                db.execute(
                    "INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, owner, title, now, now),
                )
            elif row["owner"] != owner:
                raise ConversationNotFound("conversation not found")
            else:
                db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            cursor = db.execute(
                "INSERT INTO turns (conversation_id, question, answer, answer_id, created_at) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, question, json.dumps(answer, ensure_ascii=False), answer_id, now),
            )
            return int(cursor.lastrowid)

    def share(self, conversation_id: str, owner: str) -> str:
        """The conversation's share token, made on first use (sharing twice gives the same link)."""
        conversation = self.get(conversation_id, owner)
        if conversation.share_token:
            return conversation.share_token
        token = secrets.token_urlsafe(16)
        with self._db() as db:
            db.execute("UPDATE conversations SET share_token = ? WHERE id = ? AND owner = ?", (token, conversation_id, owner))
        return token

    def unshare(self, conversation_id: str, owner: str) -> None:
        """Revoke the share link: the old token stops working."""
        self.get(conversation_id, owner)
        with self._db() as db:
            db.execute("UPDATE conversations SET share_token = NULL WHERE id = ? AND owner = ?", (conversation_id, owner))

    # --- reading ---------------------------------------------------------------------
    def list_for(self, owner: str, limit: int = 50) -> list[Conversation]:
        """The owner's conversations, most recently active first, without their turns."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS turn_count"
                " FROM conversations c WHERE owner = ? ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [self._header(row) for row in rows]

    def get(self, conversation_id: str, owner: str) -> Conversation:
        """The owner's conversation with its turns; ConversationNotFound for anyone else's."""
        conversation = self._load("id = ?", conversation_id)
        if conversation is None or conversation.owner != owner:
            raise ConversationNotFound("conversation not found")
        return conversation

    def exists(self, conversation_id: str, owner: str) -> bool:
        with self._db() as db:
            row = db.execute("SELECT owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return row is not None and row["owner"] == owner

    def by_share_token(self, token: str) -> Conversation | None:
        """The conversation shared under this token, if the link is still live."""
        return self._load("share_token = ?", token) if token else None

    def history(self, conversation_id: str, owner: str, limit: int = 5) -> list[tuple[str, str]]:
        """The last ``limit`` turns as (role, text) messages, oldest first: context for a follow-up question.

        Roles are ``user`` and ``assistant``, the shape ``KuraApp.ask(history=...)`` takes.
        """
        messages: list[tuple[str, str]] = []
        for turn in self.get(conversation_id, owner).turns[-limit:]:
            messages += [("user", turn.question), ("assistant", str(turn.answer.get("answer", "")))]
        return messages

    def _load(self, where: str, value: str) -> Conversation | None:
        with self._db() as db:
            row = db.execute(f"SELECT *, 0 AS turn_count FROM conversations WHERE {where}", (value,)).fetchone()
            if row is None:
                return None
            turn_rows = db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY id", (row["id"],)
            ).fetchall()
        turns = tuple(
            Turn(r["id"], r["question"], json.loads(r["answer"]), r["answer_id"], r["created_at"]) for r in turn_rows
        )
        return replace(self._header(row), turn_count=len(turns), turns=turns)

    @staticmethod
    def _header(row: sqlite3.Row) -> Conversation:
        return Conversation(
            id=row["id"],
            owner=row["owner"],
            title=row["title"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            share_token=row["share_token"],
            turn_count=row["turn_count"],
        )
