"""The web app's request gate: who is asking is checked first, then the body's size, before anything reads it.

FastAPI reads and parses a JSON body before any dependency runs, so without this
gate a 300 MB request from nobody in particular was read, parsed and only then
refused with 401. The gate, outermost in the app, answers:

* 401 to a request with a body for ``/api/...`` (not ``/api/health``) that carries
  no identity, from its headers and cookies alone;
* 413 when ``Content-Length`` announces more than ``max_body_bytes`` (nothing is read);
* 413 as soon as a body without a length (chunked) grows past the cap: the
  route's read stops there, so at most ``max_body_bytes`` plus one chunk is held.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_PUBLIC_API = {"/api/health"}


def too_large_message(max_body_bytes: int) -> str:
    return f"request body too large: the limit is {max_body_bytes} bytes"


class RequestGate:
    """ASGI middleware: identity first, then the body cap (see the module docstring)."""

    def __init__(self, app, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/api/") and path not in _PUBLIC_API:
            web = scope["app"].state.web
            if web.auth.user(Request(scope)) is None:
                await self._refuse(scope, receive, send, 401, "sign in to use Kura", {"WWW-Authenticate": "Session"})
                return
        declared = Request(scope).headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, receive, send, 400, "invalid Content-Length")
                return
            if int(declared) > self.max_body_bytes:
                await self._refuse(scope, receive, send, 413, too_large_message(self.max_body_bytes))
                return
        await self.app(scope, self._capped(receive), send)

    def _capped(self, receive):
        """``receive`` that refuses (413, through the app's error handler) once the body passes the cap."""
        seen = 0

        async def capped_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise HTTPException(413, too_large_message(self.max_body_bytes))
            return message

        return capped_receive

    @staticmethod
    async def _refuse(scope, receive, send, status: int, message: str, headers: dict | None = None) -> None:
        # The body is never read; the server closes the connection rather than drain what the client still sends.
        response = JSONResponse({"error": message, "status": status}, status_code=status, headers={
            **(headers or {}), "Connection": "close"})
        await response(scope, receive, send)
