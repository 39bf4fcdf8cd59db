"""Per-channel settings for the Slack bot, read from a YAML file (``KURA_SLACK_CHANNEL_CONFIG``).

Example::

    defaults:                        # every channel and DM not listed below
      answer_on_mention_only: true   # false: answer every top-level message in the channel
      allowed_sources: []            # empty: all sources; else e.g. [confluence, gdocs]
      enabled: true                  # false: Kura stays silent there (and says so to the asker)
    channels:
      C0123456789:                   # channel id (names change, ids do not)
        answer_on_mention_only: false
        allowed_sources: [confluence]

Without a file every channel gets the defaults above.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError


@dataclass(frozen=True)
class ChannelSettings:
    """How Kura behaves in one channel."""

    answer_on_mention_only: bool = True
    allowed_sources: tuple[str, ...] = ()
    enabled: bool = True


_KEYS = {f.name for f in fields(ChannelSettings)}


def _parse(raw: Any, where: str, base: ChannelSettings) -> ChannelSettings:
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(raw).__name__}")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    values: dict[str, Any] = {}
    for key in ("answer_on_mention_only", "enabled"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(f"{where}.{key}: expected true or false, got {raw[key]!r}")
            values[key] = raw[key]
    if "allowed_sources" in raw:
        sources = raw["allowed_sources"] or []
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            raise ConfigError(f"{where}.allowed_sources: expected a list of source names, got {sources!r}")
        values["allowed_sources"] = tuple(sources)
    return replace(base, **values)


class ChannelConfig:
    """Settings per channel id, falling back to the defaults."""

    def __init__(self, defaults: ChannelSettings | None = None, channels: dict[str, ChannelSettings] | None = None):
        self.defaults = defaults or ChannelSettings()
        self.channels = dict(channels or {})

    @classmethod
    def load(cls, path: Path | None) -> "ChannelConfig":
        """Read the YAML file; None means defaults everywhere. A bad file is a ConfigError naming the problem."""
        if path is None:
            return cls()
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"KURA_SLACK_CHANNEL_CONFIG: {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict) or set(raw) - {"defaults", "channels"}:
            raise ConfigError(f"{path}: expected top-level keys 'defaults' and/or 'channels'")
        defaults = _parse(raw.get("defaults"), f"{path.name}: defaults", ChannelSettings())
        channels_raw = raw.get("channels") or {}
        if not isinstance(channels_raw, dict):
            raise ConfigError(f"{path}: 'channels' must map channel ids to settings")
        channels = {
            str(cid): _parse(value, f"{path.name}: channels.{cid}", defaults) for cid, value in channels_raw.items()
        }
        return cls(defaults, channels)

    def for_channel(self, channel_id: str) -> ChannelSettings:
        return self.channels.get(channel_id, self.defaults)
