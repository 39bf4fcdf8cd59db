"""Who may read a stored conversation's answers: only someone allowed, today, to read the sources they show.

The same check serves the owner and everyone else. A person removed from a group
since asking no longer reads the restricted answers in their own stored
conversations (those turns are withheld), and a shared link is refused to
anyone, the owner included, who may not read every source it shows.

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
from core.types import Chunk

from bots.web.conversations import Conversation, Turn

WITHHELD = "This answer is hidden: it cites documents you can no longer read."


@dataclass(frozen=True)
class ShareDecision:
    allowed: bool
    reason: str = ""


def turn_chunk_ids(turn: Turn) -> list[str]:
    """The chunks a turn shows: its cited sources, or the closest documents of a not-found answer."""
    return [s["chunk_id"] for s in turn.answer.get("sources", ()) if s.get("chunk_id")]


def shown_chunk_ids(conversation: Conversation) -> list[str]:
    """Every chunk a conversation shows, each once."""
    return list(dict.fromkeys(cid for turn in conversation.turns for cid in turn_chunk_ids(turn)))


def _current_chunks(conversation: Conversation, store: ChunkStore) -> dict[str, Chunk]:
    """The shown chunks as the index holds them now (their principals as of today)."""
    ids = shown_chunk_ids(conversation)
    if not ids or not store.exists():
        return {}
    return {chunk.id: chunk for chunk in store.get(ids)}


def readable_turns(conversation: Conversation, principals: Iterable[str], store: ChunkStore) -> list[bool]:
    """Per turn: may someone holding ``principals`` read every chunk it shows, as the index stands now?"""
    principals = set(principals)
    chunks = _current_chunks(conversation, store)
    return [
        all(cid in chunks and principals.intersection(chunks[cid].principals) for cid in turn_chunk_ids(turn))
        for turn in conversation.turns
    ]


def may_view_shared(conversation: Conversation, viewer: str, viewer_principals: Iterable[str], store: ChunkStore) -> ShareDecision:
    """Whether ``viewer`` (the owner too: access can be lost) may read this shared conversation."""
    if all(readable_turns(conversation, viewer_principals, store)):
        return ShareDecision(True)
    if len(_current_chunks(conversation, store)) < len(shown_chunk_ids(conversation)):
        return ShareDecision(False, "This conversation cites documents that have since changed or been removed.")
    # Which ones is not said: even a title can be confidential.
    return ShareDecision(False, "This conversation cites documents you do not have access to.")
