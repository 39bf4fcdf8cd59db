"""Revoked web sessions: a signed cookie is only as good as this list says once its owner signs out.

The session cookie is signed, not stored, so without a server-side record a copy
of it kept working until it expired (12 hours) even after logout. Signing out
records the session's id here until the cookie would have expired anyway.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from bots.private_files import private_file


class SessionRevocations:
    """Session ids that were signed out, each kept until its cookie's own expiry."""

    def __init__(self, path: Path) -> None:
        self.path = private_file(Path(path))
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS revoked (sid TEXT PRIMARY KEY, expires_at REAL NOT NULL)")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: safe from any request thread; ``with db`` commits.
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    def revoke(self, sid: str, *, expires_in_s: float) -> None:
        now = time.time()
        with self._db() as db:
            db.execute("DELETE FROM revoked WHERE expires_at < ?", (now,))
            db.execute("INSERT OR REPLACE INTO revoked (sid, expires_at) VALUES (?, ?)", (sid, now + expires_in_s))

    def is_revoked(self, sid: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM revoked WHERE sid = ?", (sid,)).fetchone() is not None
