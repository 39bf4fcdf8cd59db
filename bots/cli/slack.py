"""``kura slack``: run the Slack bot (Socket Mode or the HTTP Events API endpoint)."""

from __future__ import annotations

import logging
from typing import Optional

import typer

logger = logging.getLogger(__name__)


def slack(
    mode: Optional[str] = typer.Option(None, "--mode", help="socket, http or auto (default: KURA_SLACK_MODE)."),
    host: Optional[str] = typer.Option(None, "--host", help="Listen address (default: KURA_SLACK_HOST)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port of /slack/events and /healthz (KURA_SLACK_PORT)."),
) -> None:
    """Answer @mentions and DMs in Slack."""
    from bots.app import KuraApp
    from bots.cli.main import _settings
    from bots.observe import configure_trace_logging
    from bots.local_socket import LocalServer
    from bots.slack.app import build_slack_app, resolve_mode
    from bots.slack.server import serve_http, serve_socket_mode

    logging.getLogger("bots").setLevel(logging.INFO)
    configure_trace_logging()
    settings = _settings(slack_mode=mode, slack_host=host, slack_port=port)
    resolved = resolve_mode(settings)
    kura = KuraApp(settings)
    with kura, LocalServer(kura, command="kura slack"):
        bolt_app, _ = build_slack_app(kura, settings, mode=resolved)
        # Load the model now, so the first question is not the slow one.
        kura.embedder.embed_query("warm up")
        if resolved == "socket":
            serve_socket_mode(bolt_app, settings.slack_app_token.get_secret_value(), settings.slack_host,
                              settings.slack_port, state_dir=settings.state_dir)
        else:
            typer.echo(f"kura slack: Events API on http://{settings.slack_host}:{settings.slack_port}/slack/events")
            serve_http(bolt_app, settings.slack_host, settings.slack_port, state_dir=settings.state_dir,
                       signing_secret=settings.slack_signing_secret.get_secret_value(),
                       max_body_bytes=settings.slack_max_body_bytes)
