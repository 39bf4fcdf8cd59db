"""Parsing the timestamps sources send (ISO 8601 with Z or offsets, Slack's epoch strings) to aware UTC datetimes."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_time(value: str | float | None) -> datetime | None:
    """An aware UTC datetime, or None for a missing or unreadable value."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)  # Slack "1712345678.000100"
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
