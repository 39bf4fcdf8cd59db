"""Durable sync state per source: where to resume, what is indexed, what failed and must be retried.

Everything lives in one SQLite file under ``settings.state_dir`` and changes in
one transaction per batch, only when the caller calls :meth:`CheckpointStore.commit`
after the batch was indexed. So a sync killed at any point either indexed and
recorded a batch, or did neither, and the next run redoes exactly the rest:

- ``cursors``: the source's resume point (a CQL date, a Drive page token, Slack
  per-channel timestamps), a small JSON object.
- ``ledger``: every document id in the index with a fingerprint (version,
  access) and a scope (space, channel). Connectors skip fetching a document whose
  fingerprint is unchanged, and find deletions by comparing a cheap id listing
  with it.
- ``failures``: documents that could not be fetched or parsed. They are retried
  at the start of every sync until they succeed or disappear, so a cursor moving
  past a broken document never loses it silently.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.protocols import DocumentFailure, SyncBatch


@dataclass(frozen=True)
class LedgerEntry:
    """What the index holds for one document: its fingerprint and the scope it was found in."""

    fingerprint: str
    scope: str = ""


@dataclass
class CheckpointedBatch(SyncBatch):
    """A SyncBatch plus what to record once it is indexed.

    ``cursor`` replaces the source's cursor (None: leave it); ``ledger`` holds
    the new entry for each emitted document (by Document.id); ``resolved`` lists
    ids to drop from the failure queue although no document was emitted (for
    example a failed document that turned out to be gone or unchanged).
    ``skipped`` are documents the source can never deliver as they are (a
    Google Doc over Drive's 10 MB export limit): they go into the ledger with
    their entry, so they are not fetched again until they change, and into the
    skipped list with the reason, so the sync result can say so.
    """

    source: str = ""
    cursor: dict[str, Any] | None = None
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)
    skipped: list[DocumentFailure] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.documents or self.deleted_ids or self.failures or self.resolved or self.skipped
                    or self.cursor is not None)


class CheckpointStore:
    """The sync state database (``connectors.sqlite``); one instance can serve every connector."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, state TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS ledger (source TEXT NOT NULL, doc_id TEXT NOT NULL,"
                " fingerprint TEXT NOT NULL, scope TEXT NOT NULL DEFAULT '', PRIMARY KEY (source, doc_id))"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS failures (source TEXT NOT NULL, doc_id TEXT NOT NULL,"
                " reason TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (source, doc_id))"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS skipped (source TEXT NOT NULL, doc_id TEXT NOT NULL,"
                " reason TEXT NOT NULL, PRIMARY KEY (source, doc_id))"
            )

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> "CheckpointStore":
        return cls(Path(state_dir) / "connectors.sqlite")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    # --- reading -------------------------------------------------------------------
    def cursor(self, source: str) -> dict[str, Any]:
        with closing(self._connect()) as db:
            row = db.execute("SELECT state FROM cursors WHERE source = ?", (source,)).fetchone()
        return json.loads(row[0]) if row else {}

    def ledger(self, source: str) -> dict[str, LedgerEntry]:
        """Document id -> entry for everything this source has in the index."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT doc_id, fingerprint, scope FROM ledger WHERE source = ?", (source,)).fetchall()
        return {doc_id: LedgerEntry(fp, scope) for doc_id, fp, scope in rows}

    def failures(self, source: str) -> dict[str, str]:
        """Document id -> last failure reason, for documents still to be retried."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT doc_id, reason FROM failures WHERE source = ?", (source,)).fetchall()
        return dict(rows)

    def skipped(self, source: str) -> dict[str, str]:
        """Document id -> why the source cannot deliver it (not retried until it changes)."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT doc_id, reason FROM skipped WHERE source = ?", (source,)).fetchall()
        return dict(rows)

    # --- writing -------------------------------------------------------------------
    def commit(self, batch: CheckpointedBatch) -> None:
        """Record an indexed batch: ledger entries, deletions, failures and the new cursor, all at once."""
        source = batch.source
        with closing(self._connect()) as db, db:
            for doc in batch.documents:
                entry = batch.ledger.get(doc.id)
                if entry is None:
                    raise ValueError(f"batch from {source} has no ledger entry for {doc.id}")
                db.execute(
                    "INSERT OR REPLACE INTO ledger (source, doc_id, fingerprint, scope) VALUES (?, ?, ?, ?)",
                    (source, doc.id, entry.fingerprint, entry.scope),
                )
            done = [doc.id for doc in batch.documents] + list(batch.deleted_ids) + list(batch.resolved)
            db.executemany("DELETE FROM ledger WHERE source = ? AND doc_id = ?", [(source, i) for i in batch.deleted_ids])
            db.executemany("DELETE FROM failures WHERE source = ? AND doc_id = ?", [(source, i) for i in done])
            db.executemany("DELETE FROM skipped WHERE source = ? AND doc_id = ?", [(source, i) for i in done])
            for skip in batch.skipped:
                doc_id = f"{skip.source}:{skip.source_id}"
                entry = batch.ledger.get(doc_id)
                if entry is None:
                    raise ValueError(f"batch from {source} has no ledger entry for skipped {doc_id}")
                db.execute("INSERT OR REPLACE INTO ledger (source, doc_id, fingerprint, scope) VALUES (?, ?, ?, ?)",
                           (source, doc_id, entry.fingerprint, entry.scope))
                db.execute("DELETE FROM failures WHERE source = ? AND doc_id = ?", (source, doc_id))
                db.execute("INSERT OR REPLACE INTO skipped (source, doc_id, reason) VALUES (?, ?, ?)",
                           (source, doc_id, skip.reason))
            for failure in batch.failures:
                doc_id = f"{failure.source}:{failure.source_id}"
                db.execute(
                    "INSERT INTO failures (source, doc_id, reason) VALUES (?, ?, ?) ON CONFLICT (source, doc_id)"
                    " DO UPDATE SET reason = excluded.reason, attempts = attempts + 1",
                    (source, doc_id, failure.reason),
                )
            if batch.cursor is not None:
                db.execute(
                    "INSERT OR REPLACE INTO cursors (source, state) VALUES (?, ?)",
                    (source, json.dumps(batch.cursor, sort_keys=True)),
                )

    def reset(self, source: str) -> None:
        """Forget a source's cursor so the next sync lists everything again (the ledger still skips unchanged ones)."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM cursors WHERE source = ?", (source,))
