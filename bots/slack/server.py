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
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots.metrics import exposition

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def http_app(bolt_app: App | None, *, healthy=lambda: True, state_dir: Path | None = None) -> Starlette:
    """Starlette app with the Events API endpoint (when ``bolt_app`` is given), /healthz and /metrics.

    /metrics (bots/metrics.py) also exports the sync and re-index jobs' figures when ``state_dir`` is given.
    """

    async def events(request: Request):
        body = await request.body()
        # dispatch blocks until the listener acks (up to 3 s): keep it off the event loop.
        response = await run_in_threadpool(bolt_app.dispatch, to_bolt_request(request, body))
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


def serve_http(bolt_app: App, host: str, port: int, *, state_dir: Path | None = None) -> None:
    logger.info("Slack Events API endpoint on http://%s:%d%s", host, port, EVENTS_PATH)
    uvicorn.run(http_app(bolt_app, state_dir=state_dir), host=host, port=port, log_level="warning")


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
