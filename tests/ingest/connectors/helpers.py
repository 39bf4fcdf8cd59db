"""Helpers for connector tests: the state stores of a settings object, and draining batches like the sync does."""

from __future__ import annotations

from collections.abc import Iterable

from core.identity import IdentityStore
from core.settings import Settings
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore


def stores(settings: Settings) -> tuple[CheckpointStore, IdentityStore]:
    return CheckpointStore.in_state_dir(settings.state_dir), IdentityStore(settings.state_dir / "identity.sqlite")


def drain(batches: Iterable[CheckpointedBatch], store: CheckpointStore, stop_after: int | None = None):
    """Consume a connector's batches as the sync does: 'index' (collect) then commit. Optionally crash early."""
    taken = []
    for batch in batches:
        if stop_after is not None and len(taken) == stop_after:
            break  # a crash before this batch was indexed: nothing of it is committed
        taken.append(batch)
        store.commit(batch)
    return taken


def docs_of(batches) -> dict:
    return {d.id: d for b in batches for d in b.documents}


def deleted_of(batches) -> list[str]:
    return [i for b in batches for i in b.deleted_ids]


def failures_of(batches) -> list:
    return [f for b in batches for f in b.failures]
