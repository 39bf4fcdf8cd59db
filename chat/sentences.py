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

# A line break inside a sentence: Markdown and plain text are often wrapped at a fixed width ("The outgoing\n
# primary posts a handover note"), and each piece is no sentence of its own. A break is such a wrap when the next
# line continues the text: it is indented without starting a list item (a list item's continuation), or it starts
# with a lower-case letter (no sentence, list item or table row starts so), and the line before it does not end a
# sentence. Other breaks still end a sentence: table rows, list items and headings are one line each.
_SOFT_WRAP = re.compile(r"(?<=[^\s.!?。！？:：])[ \t]*\n(?:[ \t]+(?![-*+•・][ \t]|\d+[.)][ \t])(?=\S)|(?=[a-z]))")


# An FAQ's "Q." or "A." label ends in a full stop but starts its sentence rather than ending one.
_LABEL = re.compile(r"^(?:Q|A|Ｑ|Ａ)[.．:：]$", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Sentences of a text; wrapped lines joined, list bullets dropped from the front of items, FAQ labels kept with
    their sentence."""
    parts = [p.strip() for p in _BOUNDARY.split(_BULLET.sub("", _SOFT_WRAP.sub(" ", text))) if p and p.strip()]
    sentences: list[str] = []
    for part in parts:
        if sentences and _LABEL.match(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {part}"
        else:
            sentences.append(part)
    return sentences
