"""The web app's one error boundary: every failure becomes a status code and a message fit to show.

Kura's own errors carry messages written for users, so they are shown as
they are, less any server path (``bots.public_errors``). Anything else is a bug: it is logged with its traceback and a short
reference, and the user sees a generic message with that reference, never a
stack trace. API requests (``/api/...``) get JSON, pages get HTML.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bots.public_errors import without_paths
from core.errors import KuraError, LLMUnavailableError, StoreError

logger = logging.getLogger(__name__)

GENERIC = "Something went wrong. Please try again; if it keeps happening, tell the Kura team (reference {ref})."


class ShareRefused(KuraError):
    """The viewer may not read a shared conversation."""


def status_for(exc: Exception) -> int:
    """The HTTP status a failure maps to."""
    from bots.feedback import FeedbackNotAllowedError, UnknownAnswerError
    from bots.web.auth import NotAuthenticated
    from bots.web.conversations import ConversationNotFound

    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, (FeedbackNotAllowedError, ShareRefused)):
        return 403
    if isinstance(exc, (ConversationNotFound, UnknownAnswerError)):
        return 404
    if isinstance(exc, (StoreError, LLMUnavailableError)):
        return 503
    if isinstance(exc, ValueError):
        return 400
    return 500


def user_message(exc: Exception, ref: str | None = None) -> str:
    """What the user reads about a failure."""
    if isinstance(exc, StarletteHTTPException):
        return "There is nothing at this address." if exc.status_code == 404 else str(exc.detail)
    if isinstance(exc, RequestValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return "invalid request: " + "; ".join(problems)
    if isinstance(exc, (KuraError, ValueError)):
        return without_paths(str(exc))
    return GENERIC.format(ref=ref or "none")


def log_failure(exc: Exception) -> str:
    """Log a failure (with its traceback when it is a bug); returns the reference shown to the user."""
    ref = secrets.token_hex(4)
    if status_for(exc) >= 500 and not isinstance(exc, KuraError):
        logger.error("unexpected error ref=%s", ref, exc_info=exc)
    else:
        logger.info("request failed ref=%s: %s", ref, exc.__class__.__name__)
    return ref


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


async def handle_error(request: Request, exc: Exception) -> Response:
    """The exception handler registered for everything (see ``create_app``)."""
    from bots.web.auth import NotAuthenticated

    status = status_for(exc)
    ref = log_failure(exc) if status >= 500 else ""
    message = user_message(exc, ref)
    if is_api(request):
        headers = {"WWW-Authenticate": "Session"} if status == 401 else None
        if status == 413:  # the body was not read to its end: close rather than drain it
            headers = {"Connection": "close"}
        return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)
    web = request.app.state.web
    if isinstance(exc, NotAuthenticated) and web.auth.local_login:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if isinstance(exc, NotAuthenticated):
        message = "Sign in through the company's single sign-on to use Kura."
    return web.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )
