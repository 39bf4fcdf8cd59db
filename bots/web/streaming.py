"""Answers as a stream: text deltas, then the final Answer; and the Server-Sent Events wire format.

The web chat consumes one generator shape whatever answers: ``str`` deltas
followed by exactly one ``Answer`` (``KuraApp.ask_stream``; plain ``ask`` where
a KuraApp lacks it). An LLM answerer yields its tokens as they arrive; the
extractive answerer has its whole answer at once, so it is sent in a few
pieces, one per cited sentence, and the page fills in the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from core.types import Answer

# Everything up to and including a citation marker and the space after it, or the rest of the text.
_PIECE = re.compile(r".*?\]\s*|.+$", re.S)


def split_for_streaming(text: str) -> list[str]:
    """A finished answer cut into a few deltas at its citation markers; joined, they are ``text`` again."""
    return [piece for piece in _PIECE.findall(text) if piece]


def answer_deltas(
    kura, question: str, *, principals: Sequence[str], history: Sequence[tuple[str, str]] | None = None, **labels
) -> Iterator[str | Answer]:
    """Yields text deltas, then the final Answer; ``labels`` (surface, conversation_id) go to KuraApp's trace."""
    ask_stream = getattr(kura, "ask_stream", None)
    if callable(ask_stream):
        items = ask_stream(question, principals=principals, history=history, **labels)
    else:
        answer = kura.ask(question, principals=principals, history=history, **labels)
        items = iter([answer.text, answer])
    for item in items:
        # An LLM's token deltas pass through (their pieces are tiny already); a finished text arrives in a few pieces.
        if isinstance(item, str):
            yield from split_for_streaming(item)
        else:
            yield item


def sse_event(event: str, data: Any) -> str:
    """One Server-Sent Event. ``json.dumps`` escapes newlines, so the data always fits one ``data:`` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def parse_sse(body: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of an event-stream body: what a client does with it (used by tests and tools)."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events
