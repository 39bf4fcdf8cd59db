"""Per-surface output sanitizing: what an answer may contain once it is shown somewhere.

* Slack: no broadcast mentions (@channel, @here, @everyone, <!channel>, <!here>,
  <!everyone>, user-group pings); ``&``, ``<`` and ``>`` escaped as Slack's
  formatting rules require, which also disarms ``<@U123>`` pings and
  ``<http://evil|innocent text>`` links; Markdown the model likes to write
  turned into mrkdwn, and an unclosed code fence closed so it cannot swallow the
  rest of the message.
* Web: HTML-escaped (the template adds markup around it, never inside it).
* Terminal: ANSI escape sequences and other control characters removed, so a
  document cannot repaint the user's terminal; zero-width and bidi-control
  characters (U+202E makes "exe.txt" read "txt.exe") and broadcast mentions too.
"""

from __future__ import annotations

import html
import re
from typing import Literal

from chat.injection import neutralise_mentions, remove_invisible

Surface = Literal["slack", "web", "terminal", "plain"]

_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MD_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
# CSI sequences (colours, cursor moves), OSC sequences (window titles, hyperlinks), other two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_BARE_MENTION = re.compile(r"(?<!\w)@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)


def for_slack(text: str) -> str:
    """Text that is safe to post as Slack mrkdwn."""
    text = neutralise_mentions(text)
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    # Slack's three control characters; after this no <...> markup from the model survives.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_BOLD.sub(r"*\1*", text)
    text = _MD_HEADING.sub(r"*\1*", text)
    if text.count("```") % 2:
        text += "\n```"
    # Belt and braces: a mention rebuilt from pieces by the steps above is defused with a zero-width space.
    return _BARE_MENTION.sub("@\u200b", text)


def for_web(text: str) -> str:
    """Text that is safe to insert into HTML."""
    return html.escape(neutralise_mentions(text), quote=True)


def for_terminal(text: str) -> str:
    """Text without escape sequences, control or invisible characters, or broadcast mentions (newlines, tabs kept)."""
    return neutralise_mentions(remove_invisible(_CONTROL.sub("", _ANSI.sub("", text))))


def sanitize(text: str, surface: Surface) -> str:
    """Sanitize answer text for one surface."""
    if surface == "slack":
        return for_slack(text)
    if surface == "web":
        return for_web(text)
    if surface == "terminal":
        return for_terminal(text)
    if surface == "plain":
        return neutralise_mentions(text)
    raise ValueError(f"unknown surface {surface!r}: use slack, web, terminal or plain")
