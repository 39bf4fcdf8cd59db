"""``kura serve``: the web chat on uvicorn."""

from __future__ import annotations

import ipaddress
import logging
from typing import Optional

import typer

from core.errors import ConfigError

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings) -> None:
    """Refuse to offer the password-less local login on a network interface unless explicitly allowed."""
    from bots.web.auth import configured_auth_header

    # The same reading of the setting as the web app's: a blank header name means the local login is on.
    if configured_auth_header(settings) or is_loopback(settings.web_host) or settings.web_allow_remote_login:
        return
    raise ConfigError(
        f"KURA_WEB_AUTH_HEADER is unset, so the web chat would use its local login, where anyone can sign in as "
        f"anyone, on {settings.web_host}. Put it behind the SSO proxy and set KURA_WEB_AUTH_HEADER, bind it to "
        "127.0.0.1, or (demos only) set KURA_WEB_ALLOW_REMOTE_LOGIN=true."
    )


def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Interface to listen on (default: KURA_WEB_HOST)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: KURA_WEB_PORT)."),
) -> None:
    """Start the web chat and print where to open it."""
    import uvicorn

    from bots.app import KuraApp
    from bots.cli.main import _settings
    from bots.observe import configure_trace_logging
    from bots.local_socket import LocalServer
    from bots.web.app import create_app

    settings = _settings(web_host=host, web_port=port)
    if "web_base_url" not in settings.model_fields_set:
        shown_host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
        settings = settings.model_copy(update={"web_base_url": f"http://{shown_host}:{settings.web_port}"})
    check_exposure(settings)
    configure_trace_logging()
    kura = KuraApp(settings)
    # The CLI's ask, stats and ingest run here while this process holds the index (bots/local_socket.py).
    with kura, LocalServer(kura, command="kura serve"):
        if kura.store.exists():
            kura.retriever  # load the model and open the index now, not on the first question
        else:
            typer.echo("kura serve: no index yet: run `kura ingest` first; the chat answers once there is one", err=True)
        app = create_app(kura, settings)
        typer.echo(f"Kura web chat: open {settings.web_base_url}  (Ctrl-C to stop)")
        uvicorn.run(app, host=settings.web_host, port=settings.web_port, log_level="warning", proxy_headers=True)
