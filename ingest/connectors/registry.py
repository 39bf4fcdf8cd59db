"""Which sources are configured, and how to build their connectors from settings.

To add a source: write its connector module (see README.md in this folder),
then add one entry to ``SOURCES``: its name, a test for "is it configured", and
a builder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import ConfigError
from core.identity import IdentityStore
from core.settings import Settings
from ingest.connectors.checkpoints import CheckpointStore


@dataclass(frozen=True)
class SourceSpec:
    name: str
    configured: Callable[[Settings], bool]
    build: Callable[[Settings, CheckpointStore, IdentityStore], object]
    needs: str  # the settings to set, for the error message


def _confluence(settings, checkpoints, identity):
    from ingest.connectors.confluence import ConfluenceConnector

    return ConfluenceConnector(settings, checkpoints, identity)


def _gdocs(settings, checkpoints, identity):
    from ingest.connectors.gdocs import GoogleDocsConnector

    return GoogleDocsConnector(settings, checkpoints, identity)


def _slack(settings, checkpoints, identity):
    from ingest.connectors.slack import SlackConnector

    return SlackConnector(settings, checkpoints, identity)


SOURCES = (
    SourceSpec("confluence", lambda s: bool(s.confluence_url), _confluence, "KURA_CONFLUENCE_URL and KURA_CONFLUENCE_TOKEN"),
    SourceSpec("gdocs", lambda s: s.google_credentials_file is not None, _gdocs,
               "KURA_GOOGLE_CREDENTIALS_FILE and KURA_GOOGLE_FOLDER_IDS (or shared drives / all visible)"),
    SourceSpec("slack", lambda s: s.slack_bot_token is not None, _slack, "KURA_SLACK_BOT_TOKEN"),
)


def configured_sources(settings: Settings) -> list[str]:
    return [spec.name for spec in SOURCES if spec.configured(settings)]


def build_connectors(settings: Settings, checkpoints: CheckpointStore, identity: IdentityStore,
                     only: str | None = None) -> list:
    """Connectors for every configured source, or just ``only``; a clear ConfigError when there are none."""
    specs = {spec.name: spec for spec in SOURCES}
    if only is not None:
        if only not in specs:
            raise ConfigError(f"unknown source {only!r}; known sources: {', '.join(specs)}")
        if not specs[only].configured(settings):
            raise ConfigError(f"source {only!r} is not configured: set {specs[only].needs}")
        chosen = [specs[only]]
    else:
        chosen = [spec for spec in SOURCES if spec.configured(settings)]
        if not chosen:
            raise ConfigError("no source is configured: set " + "; or ".join(spec.needs for spec in SOURCES))
    return [spec.build(settings, checkpoints, identity) for spec in chosen]
