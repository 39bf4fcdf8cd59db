"""A minimal loopback fake of the OpenAI chat-completions endpoint, for the summarizer tests.

Same surface as the fuller ``tests/fakes/fake_openai.py`` on the ``llm`` branch
(``FakeOpenAI``, ``Reply``, ``script``, ``requests``, ``base_url``), so these
tests can switch to it by changing the import once it is on main. What it
reproduces: ``POST /v1/chat/completions`` (non-streaming) in the API's JSON
shape, 401 for a wrong bearer token, scripted error statuses in the API's
error shape, and a ``default`` reply when nothing is scripted.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str = ""
    status: int = 200  # != 200: an error in the API's error shape
    delay_s: float = 0.0


@dataclass
class FakeOpenAI:
    api_key: str = "test-key"
    default: Reply = field(default_factory=lambda: Reply("A summary."))
    requests: list[dict[str, Any]] = field(default_factory=list)
    _queue: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> "FakeOpenAI":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply | str) -> None:
        with self._lock:
            self._queue.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._queue.popleft() if self._queue else self.default


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet tests
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def do_POST(self):  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._error(404, f"no route {self.path}")
        if self.headers.get("Authorization", "") != f"Bearer {self.fake.api_key}":
            return self._error(401, "Incorrect API key provided.")
        reply = self.fake.next_reply(request)
        time.sleep(reply.delay_s)
        if reply.status != 200:
            return self._error(reply.status, f"scripted error {reply.status}")
        self._json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })
