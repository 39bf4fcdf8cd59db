"""Who may read a shared conversation: only someone allowed to read every source it shows.

A shared conversation shows answers, passages and titles from its sources, so
the viewer must hold a principal of each one. The check reads the chunks'
principals from the index at viewing time, not from when the answer was given:
a document restricted since then stops the link working. A source that is no
longer in the index (deleted, or changed so its chunk was replaced) cannot be
checked, so it refuses too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.store import ChunkStore

from bots.web.conversations import Conversation


@dataclass(frozen=True)
class ShareDecision:
    allowed: bool
    reason: str = ""


def shown_chunk_ids(conversation: Conversation) -> list[str]:
    """Every chunk a conversation shows: the cited sources, and the closest documents of not-found answers."""
    ids: list[str] = []
    for turn in conversation.turns:
        for source in turn.answer.get("sources", ()):
            chunk_id = source.get("chunk_id")
            if chunk_id and chunk_id not in ids:
                ids.append(chunk_id)
    return ids


def may_view_shared(conversation: Conversation, viewer: str, viewer_principals: Iterable[str], store: ChunkStore) -> ShareDecision:
    """Whether ``viewer`` may read this shared conversation."""
    if viewer == conversation.owner:
        return ShareDecision(True)
    ids = shown_chunk_ids(conversation)
    if not ids:
        return ShareDecision(True)
    principals = set(viewer_principals)
    chunks = store.get(ids) if store.exists() else []
    if len(chunks) < len(ids):
        return ShareDecision(False, "This conversation cites documents that have since changed or been removed.")
    if any(not principals.intersection(chunk.principals) for chunk in chunks):
        # Which ones is not said: even a title can be confidential.
        return ShareDecision(False, "This conversation cites documents you do not have access to.")
    return ShareDecision(True)

