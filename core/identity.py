"""Who may read what: a durable map from a person (email) to the access principals they hold.

Connectors record what they see (Confluence group members, Google group
members, Slack users' emails and private-channel members); retrieval filters by
``principals_for(email)``. Stored in SQLite under the state directory so several
connectors (and processes) can update it safely.

Principal strings: ``public``, ``user:<email>``, ``group:<name>``, ``slack:<channel id>``,
``domain:<example.com>``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from core.types import PUBLIC


def user_principal(email: str) -> str:
    return f"user:{email.strip().lower()}"


class IdentityStore:
    """email -> principals, with the source that granted each one (so a source can replace only its own grants)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS grants ("
                " email TEXT NOT NULL, principal TEXT NOT NULL, source TEXT NOT NULL,"
                " PRIMARY KEY (email, principal, source))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, email TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def replace_grants(self, source: str, grants: dict[str, Iterable[str]]) -> None:
        """Make ``grants`` (email -> principals) the complete set this source grants, in one transaction."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM grants WHERE source = ?", (source,))
            db.executemany(
                "INSERT OR IGNORE INTO grants (email, principal, source) VALUES (?, ?, ?)",
                [(email.strip().lower(), p, source) for email, ps in grants.items() for p in ps],
            )

    def grants(self, source: str) -> dict[str, set[str]]:
        """What ``source`` granted last time (email -> principals), so it can keep what it could not re-read."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT email, principal FROM grants WHERE source = ?", (source,)).fetchall()
        found: dict[str, set[str]] = {}
        for email, principal in rows:
            found.setdefault(email, set()).add(principal)
        return found

    def add_alias(self, alias: str, email: str) -> None:
        """Map another identity (for example a Slack user id) to an email."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO aliases (alias, email) VALUES (?, ?)", (alias, email.strip().lower()))

    def email_for(self, alias: str) -> str | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT email FROM aliases WHERE alias = ?", (alias,)).fetchone()
        return row[0] if row else None

    def principals_for(self, email: str | None) -> tuple[str, ...]:
        """Everything this person may read: public documents, their own, and their groups' and channels'."""
        if not email:
            return (PUBLIC,)
        email = email.strip().lower()
        with closing(self._connect()) as db:
            rows = db.execute("SELECT DISTINCT principal FROM grants WHERE email = ?", (email,)).fetchall()
        found = {r[0] for r in rows}
        domain = email.rsplit("@", 1)[-1] if "@" in email else ""
        base = {PUBLIC, user_principal(email)} | ({f"domain:{domain}"} if domain else set())
        return tuple(sorted(base | found))
