"""A loopback HTTP server in a thread, the base of the fake Confluence, Google and Slack servers.

It records every request with the time it arrived (tests check that a
Retry-After was honoured) and lets a test inject faults ahead of the normal
handling: a 429 with Retry-After, a 500, a slow answer, for the next N requests
whose path matches.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the query string, or from a form-encoded body (slack-sdk POSTs its calls)."""
        values = self.query.get(name)
        if not values and self.body and "form-urlencoded" in self.headers.get("content-type", ""):
            values = parse_qs(self.body.decode("utf-8")).get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay_s: float = 0.0


@dataclass
class FaultRule:
    path_contains: str
    response: Response
    remaining: int


class FakeServer:
    """Subclasses implement :meth:`route`; ``start``/``stop`` or use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: list[FaultRule] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "FakeServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, unquote(parts.path), parse_qs(parts.query, keep_blank_values=True),
                                  {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                response = fake._dispatch(request)
                if response.delay_s:
                    time.sleep(response.delay_s)
                payload = response.body
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode("utf-8")
                elif isinstance(payload, str):
                    data = payload.encode("utf-8")
                else:
                    data = payload or b""
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- faults and records ------------------------------------------------------------
    def inject(self, path_contains: str, response: Response, times: int = 1) -> None:
        """Answer the next ``times`` requests whose path contains ``path_contains`` with ``response``."""
        with self._lock:
            self._faults.append(FaultRule(path_contains, response, times))

    def requests_to(self, path_contains: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path_contains in r.path]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            for rule in self._faults:
                if rule.remaining > 0 and rule.path_contains in request.path:
                    rule.remaining -= 1
                    return rule.response
        try:
            with self._lock:
                return self.route(request)
        except Exception as exc:  # a bug in the fake shows up as a 599 the test will see
            import traceback

            traceback.print_exc()
            return Response(599, {"error": f"fake server error: {exc!r}"})

    def route(self, request: Request) -> Response:
        raise NotImplementedError
