"""Slack mrkdwn in both directions: safe output from document text, plain questions from Slack messages.

Output: ``safe_text`` builds on the shared Slack sanitizer (``chat.sanitize.for_slack``:
broadcast mentions removed, ``&``, ``<`` and ``>`` escaped so ``<!channel>``,
``<@U…>`` and ``<http://evil|innocent text>`` from a document are shown as text,
Markdown turned into mrkdwn) and adds what matters when many document sentences
are joined into one message:

* whitespace is collapsed first: a document cannot start a line with ``>``
  (quote) or smuggle a code fence across lines;
* a formatting marker (``*``, ``_``, ``~``, `````) that occurs an odd number of
  times in one piece of text is replaced by a look-alike, so it cannot pair with
  a marker in the next sentence and bold half the answer.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from chat.sanitize import for_slack

# Markers Slack pairs up, and the look-alike each becomes when left unpaired.
_LOOKALIKE = {"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"}

# Slack -> plain text for questions.
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SLACK_CHANNEL = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")
_SLACK_SPECIAL = re.compile(r"<![^>]*>")


def _balance_markers(text: str) -> str:
    for marker, lookalike in _LOOKALIKE.items():
        if text.count(marker) % 2:
            text = text.replace(marker, lookalike)
    return text


def safe_text(text: str) -> str:
    """Document or model text made safe to embed in a mrkdwn message: one line, escaped, markers balanced."""
    # Balanced before for_slack too, so an unclosed code fence is defused rather than closed on a new line.
    return _balance_markers(for_slack(_balance_markers(" ".join(text.split()))))


def safe_url(url: str) -> str | None:
    """The URL when it is an http(s) link Slack can show unchanged, else None."""
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    if any(c in url for c in "<>| \n\t"):
        return None
    return url.replace("&", "&amp;")


def link(url: str, label: str) -> str:
    """A mrkdwn link with a safe label, or just the label when the URL is not linkable."""
    label = safe_text(label).replace("|", "\u00a6") or "link"
    target = safe_url(url)
    return f"<{target}|{label}>" if target else label


def safe_cut(text: str, limit: int) -> int:
    """The longest prefix length <= ``limit`` that does not end inside an ``&…;`` escape or a ``<…>`` link."""
    if len(text) <= limit:
        return len(text)
    cut = limit
    amp = text.rfind("&", 0, cut)
    if amp > text.rfind(";", 0, cut):
        cut = amp  # do not split "&amp;" into "&am"
    bracket = text.rfind("<", 0, cut)
    if bracket > text.rfind(">", 0, cut):
        cut = bracket  # a link cut in half shows its raw markup and loses its target
    return cut


def boundary(text: str, limit: int) -> int:
    """Where to cut ``text`` to at most ``limit`` characters: a safe cut, moved back to a word break when near."""
    cut = safe_cut(text, limit)
    space = text.rfind(" ", 0, cut)
    if space > limit // 2:
        cut = safe_cut(text, space)  # the space may sit inside an earlier link's label
    return cut or limit  # a single link longer than the limit: nothing safe, cut it anyway


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space and marked with an ellipsis, never inside an escape or link."""
    if len(text) <= limit:
        return text
    return text[: boundary(text, limit - 1)].rstrip() + "…"


def pack(pieces: list[str], limit: int, sep: str) -> list[str]:
    """Join ``pieces`` with ``sep`` into as few texts of at most ``limit`` characters as possible.

    Pieces are sentences or source lines: a text never ends inside one unless a
    single piece is longer than ``limit``, and then it is cut at a safe boundary
    (:func:`safe_cut`) and continued in the next text, so nothing is lost.
    """
    texts: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > limit:  # a giant piece: flush, then cut it where no markup breaks
            if current:
                texts.append(current)
                current = ""
            cut = boundary(piece, limit)
            texts.append(piece[:cut])
            piece = piece[cut:].lstrip()
        joined = f"{current}{sep}{piece}" if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            texts.append(current)
            current = piece
    if current:
        texts.append(current)
    return texts


def plain_question(text: str, bot_user_id: str | None = None) -> str:
    """The question a Slack message asks: the bot's mention removed, other markup turned back into words."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _SLACK_USER.sub(lambda m: "@" + m.group(1), text)
    text = _SLACK_CHANNEL.sub(lambda m: "#" + m.group(1), text)
    text = _SLACK_SPECIAL.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())
