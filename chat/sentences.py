"""Sentence splitting for English and Japanese answer and source text."""

from __future__ import annotations

import re

# A sentence ends at 。！？ or at !? before a space (optionally after closing quotes/brackets), at ". "
# before a capital/digit/Japanese character, or at a line break (table rows, list items).
_BOUNDARY = re.compile(
    r"(?<=[。！？])[」』）)\]\"']*\s*"  # Japanese full stops need no space after them
    r"|(?<=[!?])[)\"'\]]*\s+"  # ASCII ! and ? end a sentence only before a space (not in Slack's <!here>)
    r"|(?<=[.])\s+(?=[A-Z0-9\"'(\[\u3040-\u9fff])"
    r"|\n+"
)


_BULLET = re.compile(r"(?m)^\s*(?:[-*+•・]|\d+[.)])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a text; list bullets are dropped from the front of items."""
    parts = _BOUNDARY.split(_BULLET.sub("", text))
    return [p.strip() for p in parts if p and p.strip()]
