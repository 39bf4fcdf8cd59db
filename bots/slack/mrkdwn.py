"""Slack mrkdwn in both directions: safe output from document text, plain questions from Slack messages.

Output rules (Slack-specific; the surface-neutral ``chat/sanitize.py`` was not
on main when this was written):

* ``&``, ``<`` and ``>`` are escaped as Slack requires. That alone disarms
  ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<!subteam^…>``, ``<@U…>`` pings
  and ``<http://evil|innocent text>`` links that a document might carry.
* ``@channel``, ``@here`` and ``@everyone`` get a zero-width space after the
  ``@``, so they can never turn into pings (for example with ``link_names``).
* Whitespace is collapsed: a document cannot start a line with ``>`` (quote)
  or ``-`` or smuggle an unclosed code fence across lines.
* A formatting marker (``*``, ``_``, ``~``, `````) that occurs an odd number
  of times in one piece of document text is replaced by a look-alike, so it
  cannot pair with a marker in the next sentence and bold half the answer.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
# Markers Slack pairs up, and the look-alike each becomes when left unpaired.
_LOOKALIKE = {"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"}
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_MD_BOLD = re.compile(r"\*\*(.+?)\*\*")

# Slack -> plain text for questions.
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SLACK_CHANNEL = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")
_SLACK_SPECIAL = re.compile(r"<![^>]*>")


def escape(text: str) -> str:
    """Escape Slack's three control characters and defuse broadcast words; nothing else changes."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u200b", text)


def safe_text(text: str) -> str:
    """Document or model text made safe to embed in a mrkdwn message: one line, escaped, markers balanced."""
    text = " ".join(text.split())
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _MD_BOLD.sub(r"*\1*", text)
    for marker, lookalike in _LOOKALIKE.items():
        if text.count(marker) % 2:
            text = text.replace(marker, lookalike)
    return escape(text)


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


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space and marked with an ellipsis, never inside an escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp > cut.rfind(";"):
        cut = cut[:amp]  # do not split "&amp;" into "&am"
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut + "…"


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
