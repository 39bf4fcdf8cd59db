"""Runs the bolt App: an HTTP endpoint for the Events API, or Socket Mode; both serve /healthz.

HTTP: ``POST /slack/events`` (events, button clicks, modal submissions) on
``KURA_SLACK_HOST:KURA_SLACK_PORT``. Socket Mode: the WebSocket to Slack, plus
the same port serving only ``/healthz`` so container health checks work in
both modes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots.metrics import exposition

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
DEFAULT_MAX_BODY_BYTES = 1_048_576


def _refusal(status: int, message: str) -> JSONResponse:
    # Connection: close, so the server does not drain a body it refused to read.
    return JSONResponse({"error": message}, status_code=status, headers={"Connection": "close"})


def http_app(
    bolt_app: App | None,
    *,
    healthy=lambda: True,
    state_dir: Path | None = None,
    signing_secret: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """Starlette app with the Events API endpoint (when ``bolt_app`` is given), /healthz and /metrics.

    /metrics (bots/metrics.py) also exports the sync and re-index jobs' figures when ``state_dir`` is given.

    A request's signature is checked before its body is parsed, and its body is read only up to
    ``max_body_bytes``: unsigned requests get 401 without being read, larger ones 413.
    """
    if bolt_app is not None and not signing_secret:
        raise ValueError("http_app needs the signing secret to verify Events API requests")
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def events(request: Request):
        headers = request.headers
        if not headers.get("x-slack-signature") or not headers.get("x-slack-request-timestamp"):
            return _refusal(401, "missing Slack signature")
        declared = headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > max_body_bytes):
            return _refusal(413, "request body too large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return _refusal(413, "request body too large")
        if not verifier.is_valid_request(body, dict(headers)):
            return _refusal(401, "invalid Slack signature")
        try:
            bolt_request = to_bolt_request(request, body)
        except ValueError:  # signed, but not the JSON or form body Slack sends
            return _refusal(400, "malformed request body")
        # dispatch blocks until the listener acks (up to 3 s): keep it off the event loop.
        response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(response)

    async def health(_: Request):
        ok = healthy()
        return JSONResponse({"status": "ok" if ok else "disconnected"}, status_code=200 if ok else 503)

    async def metrics(_: Request):
        body, content_type = exposition(state_dir)
        return Response(body, media_type=content_type)

    routes = [Route("/healthz", health, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
    if bolt_app is not None:
        routes.append(Route(EVENTS_PATH, events, methods=["POST"]))
    return Starlette(routes=routes)


def serve_http(
    bolt_app: App,
    host: str,
    port: int,
    *,
    signing_secret: str,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    state_dir: Path | None = None,
) -> None:
    logger.info("Slack Events API endpoint on http://%s:%d%s", host, port, EVENTS_PATH)
    app = http_app(bolt_app, signing_secret=signing_secret, max_body_bytes=max_body_bytes, state_dir=state_dir)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def serve_socket_mode(bolt_app: App, app_token: str, host: str, port: int, *, state_dir: Path | None = None) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(bolt_app, app_token)
    handler.connect()
    logger.info("connected to Slack in Socket Mode; health on http://%s:%d/healthz", host, port)
    try:
        app = http_app(None, healthy=handler.client.is_connected, state_dir=state_dir)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        handler.close()
