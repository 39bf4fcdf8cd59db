"""The web chat's FastAPI app: ``create_app(kura, settings)`` wires the pages, the JSON API and the error boundary.

The app holds no global state: everything it needs lives on ``app.state.web``
(a ``WebContext``), built here from the KuraApp and the settings, so tests can
build as many apps as they like side by side.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import KuraError
from core.settings import Settings
from retrieval.tokenize import has_japanese

from bots.web.auth import WebAuth
from bots.web.chat import ChatService
from bots.web.conversations import ConversationStore
from bots.web.errors import handle_error
from bots.web.limits import RequestGate

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

# Same-origin everything, no inline script or style: document text can never run as code, even if escaping failed.
SECURITY_HEADERS = {
    b"content-security-policy": b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    b"form-action 'self'; frame-ancestors 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",  # share links carry a token: never leak it to the sites sources link to
    b"x-frame-options": b"DENY",
}


@dataclass
class WebContext:
    """What the routes need, built once per app."""

    kura: object  # bots.app.KuraApp (or anything with its ask/principals_for/store)
    settings: Settings
    auth: WebAuth
    conversations: ConversationStore
    feedback: object  # bots.feedback.FeedbackStore
    chat: ChatService
    templates: Jinja2Templates

    def share_url(self, token: str) -> str:
        return f"{self.settings.web_base_url.rstrip('/')}/s/{token}"


def context(request: Request) -> WebContext:
    """FastAPI dependency: the app's WebContext."""
    return request.app.state.web


def current_user(request: Request) -> str:
    """FastAPI dependency: the signed-in user's email; NotAuthenticated (401 / login page) otherwise."""
    return request.app.state.web.auth.require_user(request)


def static_version() -> str:
    """A fingerprint of the static files: their URLs change when they do, so browsers may cache them for long."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, and long caching to fingerprinted static files."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += list(SECURITY_HEADERS.items())
                if is_static:
                    headers.append((b"cache-control", b"public, max-age=86400"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(kura, settings: Settings, *, feedback=None, conversations: ConversationStore | None = None) -> FastAPI:
    """The web chat app over this KuraApp; the feedback and conversation stores default to the data directory."""
    from bots.feedback import FeedbackStore
    from bots.web.api import router as api_router
    from bots.web.insights_page import api_router as insights_api_router, router as insights_router
    from bots.web.pages import router as pages_router

    feedback = feedback or FeedbackStore.from_settings(settings)
    conversations = conversations or ConversationStore(settings.data_dir / "web" / "conversations.sqlite")
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["static_version"] = static_version()
    templates.env.filters["lang"] = lambda text: "ja" if has_japanese(str(text or "")) else "en"

    app = FastAPI(
        title="Kura web chat",
        version="1",
        description="Ask questions about the company's documents; answers cite their sources. "
        "Every endpoint except /api/health needs the identity header set by the SSO proxy, or a local session.",
        docs_url=None,  # the Swagger page loads scripts from a CDN; the schema itself is at /openapi.json
        redoc_url=None,
    )
    app.state.web = WebContext(
        kura=kura,
        settings=settings,
        auth=WebAuth(settings),
        conversations=conversations,
        feedback=feedback,
        chat=ChatService(kura, conversations, feedback),
        templates=templates,
    )
    # One handler for every failure; see bots/web/errors.py.
    for exc_type in (StarletteHTTPException, RequestValidationError, KuraError, ValueError, Exception):
        app.add_exception_handler(exc_type, handle_error)
    # Identity and the body cap are checked before FastAPI reads a body (outermost but for the headers).
    app.add_middleware(RequestGate, max_body_bytes=settings.web_max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(insights_api_router)
    app.include_router(insights_router)  # /insights and /metrics
    return app
