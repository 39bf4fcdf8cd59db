"""Collects documents, deletions and failures into checkpointed batches of a fixed size."""

from __future__ import annotations

import copy
from typing import Any

from core.protocols import DocumentFailure
from core.types import Document
from ingest.connectors.checkpoints import CheckpointedBatch, LedgerEntry


class BatchBuilder:
    """Accumulates one connector's output; ``add``/``fail``/``delete`` hand back a full batch at ``size``.

    The connector sets :meth:`advance` to the resume point that is valid once
    everything handled so far is committed; each batch carries the latest one.
    Usage in a connector generator::

        builder.advance({"since": page_modified})
        if (batch := builder.add(doc, entry)) is not None:
            yield batch
        ...
        if (batch := builder.take()) is not None:
            yield batch
    """

    def __init__(self, source: str, size: int, cursor: dict[str, Any] | None = None) -> None:
        self.source = source
        self.size = max(1, size)
        self._batch = CheckpointedBatch(source=source)
        self._cursor: dict[str, Any] | None = None
        self._recorded = dict(cursor or {})  # the cursor already stored: no need to write it again

    def advance(self, cursor: dict[str, Any]) -> None:
        """Record the resume point reached; it is written with the next batch (if it differs from the stored one)."""
        cursor = copy.deepcopy(cursor)  # callers keep mutating their state dicts
        self._cursor = None if cursor == self._recorded else cursor

    def add(self, document: Document, entry: LedgerEntry) -> CheckpointedBatch | None:
        self._batch.documents.append(document)
        self._batch.ledger[document.id] = entry
        return self._take_if_full()

    def fail(self, source_id: str, reason: str) -> CheckpointedBatch | None:
        self._batch.failures.append(DocumentFailure(self.source, source_id, reason[:500]))
        return self._take_if_full()

    def skip(self, doc_id: str, entry: LedgerEntry, reason: str) -> CheckpointedBatch | None:
        """A document the source can never deliver as it is: drop it from the index, not to be retried until it
        changes (``entry`` is its ledger fingerprint)."""
        source_id = doc_id.split(":", 1)[1]
        self._batch.skipped.append(DocumentFailure(self.source, source_id, reason[:500]))
        self._batch.deleted_ids.append(doc_id)  # an older, smaller version must not keep answering
        self._batch.ledger[doc_id] = entry
        return self._take_if_full()

    def delete(self, doc_id: str) -> CheckpointedBatch | None:
        self._batch.deleted_ids.append(doc_id)
        return self._take_if_full()

    def resolve(self, doc_id: str) -> None:
        """Drop a queued failure without emitting anything (the document is unchanged or gone)."""
        self._batch.resolved.append(doc_id)

    def take(self) -> CheckpointedBatch | None:
        """Hand back what was collected with the latest cursor, or None when there is nothing to record."""
        batch, self._batch = self._batch, CheckpointedBatch(source=self.source)
        batch.cursor, self._cursor = self._cursor, None
        if batch.cursor is not None:
            self._recorded = batch.cursor
        return None if batch.is_empty else batch

    def _take_if_full(self) -> CheckpointedBatch | None:
        b = self._batch
        if len(b.documents) + len(b.failures) + len(b.deleted_ids) >= self.size:
            return self.take()
        return None
