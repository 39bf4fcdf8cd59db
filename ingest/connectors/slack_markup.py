"""Slack ``mrkdwn`` -> plain readable text: names for mentions, labels for links, entities decoded.

Slack escapes ``&``, ``<`` and ``>`` and wraps references in angle brackets:
``<@U123>``, ``<#C123|general>``, ``<!here>``, ``<!subteam^S1|@team>``,
``<https://x|label>``, ``<mailto:a@b|a@b>``. Code spans and blocks (backticks)
are kept as they are, so code stays recognisable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"<([^<>]+)>")


def to_text(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Convert one message's text; unknown user/channel ids stay as ids."""

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            return "@" + (users.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (channels.get(target[1:]) or label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@group"
        if target.startswith("!date^"):
            return label or ""
        if target.startswith("!"):
            return "@" + target[1:]
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if label and label != target:
            return f"{label} ({target})"
        return target

    converted = _REFERENCE.sub(replace, text or "")
    return converted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
