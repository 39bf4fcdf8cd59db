"""Conversation history as the surfaces pass it: normalised to (role, text) turns.

A turn may be a ``(role, text)`` pair with role ``user`` or ``assistant``, a
``{"role": ..., "content": ...}`` dict (the chat-completions shape), or an
object with ``role`` and ``content``/``text`` attributes. Anything else is a
clear ValueError rather than a silent mix-up of who said what.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Turn = Any  # (role, text) | {"role", "content"} | object with .role and .content/.text
ROLES = ("user", "assistant")


def normalise_turn(turn: Turn) -> tuple[str, str]:
    """One turn as (role, text); raises ValueError for shapes it cannot read."""
    if isinstance(turn, dict):
        role, text = turn.get("role"), turn.get("content", turn.get("text"))
    elif isinstance(turn, (tuple, list)) and len(turn) == 2:
        role, text = turn
    else:
        role = getattr(turn, "role", None)
        text = getattr(turn, "content", getattr(turn, "text", None))
    if role not in ROLES or not isinstance(text, str):
        raise ValueError(f"a history turn must be (role, text) with role 'user' or 'assistant', got {turn!r:.80}")
    return role, text


def recent_turns(history: Iterable[Turn] | None, limit: int) -> list[tuple[str, str]]:
    """The last ``limit`` non-empty turns, oldest first."""
    turns = [normalise_turn(t) for t in (history or ())]
    return [(role, text) for role, text in turns if text.strip()][-limit:] if limit > 0 else []
