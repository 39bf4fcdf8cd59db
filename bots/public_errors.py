"""Error messages fit to show a user: no server paths.

Messages of Kura's own errors are written for users, but some carry a path
("path already contains segment data: /srv/kura/data/index/..."), and a Slack
reply or a web page must not tell everyone where the server keeps its data.
Every surface's error boundary passes its message through ``without_paths``:
an absolute path keeps only its last part ("…/index").
"""

from __future__ import annotations

import re

# An absolute POSIX path (or ~/...) with at least one separator after its first part, or a Windows one; not the
# path part of a URL ("https://host/a/b": preceded by a host character) nor a route like "/api/ask" alone.
_PATH = re.compile(
    r"(?<![\w.:/~-])(?:~|/)[^\s/'\"`()<>]*(?:/[^\s/'\"`()<>]+)+/?"
    r"|\b[A-Za-z]:\\[^\s'\"`()<>]+"
)


def without_paths(message: str) -> str:
    """``message`` with every absolute filesystem path shortened to ``…/<its last part>``."""

    def short(match: re.Match) -> str:
        parts = [p for p in re.split(r"[/\\]", match.group(0).rstrip("/\\")) if p]
        return "…/" + parts[-1] if parts else "…"

    return _PATH.sub(short, message)
