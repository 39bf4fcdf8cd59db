"""Sentence vectors on disk, shared by every process on one data dir.

The answerability model embeds up to 32 candidate sentences per English question; on this kind of CPU that is
~0.9 s, most of a cold ``kura ask``. Documents repeat across asks, so the vectors are kept in
``<data dir>/sentence_vectors.sqlite``: a new process reuses what earlier asks (or ``kura serve``) embedded.

- Keyed by a hash of the embedding model, backend and sentence text: a new model never reads another's vectors,
  and the file holds no document text. It still derives from restricted documents, so it is 0600 like the
  other data files.
- float32, exactly what the embedder returned: an answer is the same whether the vector came from disk or not.
- Bounded: beyond ``capacity`` rows the oldest are dropped.
- Never fatal: a locked, corrupt or unwritable file is logged and the model embeds as if there were no store.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from bots.private_files import private_file

logger = logging.getLogger(__name__)

FILE_NAME = "sentence_vectors.sqlite"


class SentenceVectorStore:
    """Vectors of sentences by (model, text), in SQLite; thread-safe, several processes may share the file."""

    def __init__(self, path: Path, model_key: str, *, capacity: int = 50_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.path = Path(path)
        self.model_key = model_key
        self.capacity = capacity
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model_key}\x1f{text}".encode()).digest()[:16]

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                private_file(self.path)
                db = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
                self._db = db
            except (sqlite3.Error, OSError) as exc:
                self._give_up(exc)
        return self._db

    def _give_up(self, exc: Exception) -> None:
        logger.warning("sentence vector store %s not used: %s", self.path, exc)
        self._broken = True
        self._db = None

    def get_many(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those texts that have one."""
        keys = {self._key(t): t for t in texts}
        if not keys:
            return {}
        with self._lock:
            db = self._connect()
            if db is None:
                return {}
            try:
                found = {}
                items = list(keys)
                for start in range(0, len(items), 500):  # SQLite's limit on bound parameters
                    part = items[start : start + 500]
                    rows = db.execute(
                        f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                    ).fetchall()
                    found.update((keys[k], np.frombuffer(v, dtype=np.float32).copy()) for k, v in rows)
                return found
            except sqlite3.Error as exc:
                self._give_up(exc)
                return {}

    def put_many(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Store these vectors, then drop the oldest rows beyond ``capacity``."""
        if not vectors:
            return
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        with self._lock:
            db = self._connect()
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
                excess = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] - self.capacity
                if excess > 0:
                    db.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)",
                               (excess,))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                logger.warning("sentence vectors not stored in %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
