"""Which Events API deliveries were already handled, so a redelivered event is answered once.

Slack redelivers an event it thinks was not acknowledged in time (with
``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``), up to three times, with the
same ``event_id``. That happens when the bot restarts between Slack sending and
the bot answering, so the ids live in SQLite under the state directory (an
in-memory set would forget them in exactly that case). Ids older than a day are
pruned: Slack's retries come within minutes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

KEEP_S = 24 * 3600


class SlackEventLog:
    """``first_delivery(event_id)`` is True exactly once per id, across restarts and threads."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._memory: dict[str, float] = {}  # no state dir (tests of other things): per process only
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute("CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, seen REAL NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def first_delivery(self, event_id: str | None) -> bool:
        """Record ``event_id``; False when it was recorded before (a retry). Events without an id always pass."""
        if not event_id:
            return True
        now = time.time()
        with self._lock:
            if self.path is None:
                self._memory = {k: t for k, t in self._memory.items() if now - t < KEEP_S}
                if event_id in self._memory:
                    return False
                self._memory[event_id] = now
                return True
            with closing(self._connect()) as db, db:
                db.execute("DELETE FROM events WHERE seen < ?", (now - KEEP_S,))
                inserted = db.execute("INSERT OR IGNORE INTO events (event_id, seen) VALUES (?, ?)",
                                      (event_id, now)).rowcount
            return inserted == 1
