"""A loopback fake of the OpenAI chat-completions API, for tests that drive the real ``openai`` client.

Replies are scripted per test::

    with FakeOpenAI() as fake:
        fake.script(Reply("Remote work is allowed 3 days a week [1]."))
        client = openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key)
        ...
        fake.requests[0]["messages"]  # what the client sent

What it reproduces of the real API:

* ``POST /v1/chat/completions``, non-streaming (``chat.completion``) and streaming
  (server-sent ``chat.completion.chunk`` events ending with ``data: [DONE]``,
  ``stream_options.include_usage`` honoured);
* ``logprobs`` / ``top_logprobs``: per-token ``{token, logprob, bytes, top_logprobs}``
  entries, scripted or derived from the reply text; ``logprobs_supported=False``
  (or ``Reply(logprobs=False)``) answers ``logprobs: null`` like servers without them;
* errors in the API's JSON shape: 401 for a wrong bearer token, scripted 429 (with
  ``Retry-After`` / ``retry-after-ms``), 500, 503 ...;
* slow responses (``delay_s`` before the headers, ``chunk_delay_s`` between stream
  events) to exercise client timeouts, and a stream cut off mid-way;
* ``POST /v1/completions`` (the plain-text completions API, not streamed): ``text``
  and its ``logprobs`` as parallel lists (``tokens``, ``token_logprobs``,
  ``top_logprobs`` dicts); ``completions_supported=False`` answers 404 like a
  hosted chat-only model;
* ``GET /v1/models``;
* servers that are not OpenAI: ``tokenizer="sentencepiece"`` returns token strings
  as SentencePiece pieces (``▁Yes``, words split into pieces) and answers 400 to
  ``logit_bias`` (whose ids would name other tokens in a foreign vocabulary);
  ``logprobs_error=True`` answers HTTP 500 to any request asking for logprobs
  (llama.cpp's server started without ``logits_all``).

Scripted replies are consumed in order; when none is left the ``default`` reply
(or ``responder(request)``) answers.
"""

from __future__ import annotations

import json
import math
import re
import select
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass
class Reply:
    """One scripted answer of the fake server."""

    content: str = ""
    status: int = 200  # != 200: an error reply in the API's error shape
    error_message: str = ""
    retry_after_s: float | None = None  # sent as Retry-After and retry-after-ms on errors
    delay_s: float = 0.0  # before anything is sent (client timeouts)
    chunk_delay_s: float = 0.0  # between streamed events
    cut_after_chunks: int | None = None  # streaming: drop the connection after this many content events
    stall_after_chunks: int | None = None  # streaming: go quiet for ``stall_s`` after this many content events
    stall_s: float = 0.0
    finish_reason: str = "stop"
    model: str | None = None  # defaults to the requested model
    logprobs: bool = True  # False: answer logprobs=null even when asked (servers without logprobs)
    # Explicit per-token logprobs: [(token, logprob, {alternative: logprob, ...}), ...]
    token_logprobs: list[tuple[str, float, dict[str, float]]] | None = None


@dataclass
class FakeOpenAI:
    """The fake server; a context manager that serves on 127.0.0.1 in a background thread."""

    api_key: str = "test-key"
    default: Reply = field(default_factory=lambda: Reply("NOT_FOUND"))
    responder: Callable[[dict[str, Any]], Reply] | None = None
    logprobs_supported: bool = True
    logprobs_error: bool = False  # True: HTTP 500 for a logprobs request, like llama.cpp without logits_all
    tokenizer: str = "openai"  # "sentencepiece": foreign token strings, no logit_bias
    completions_supported: bool = True  # False: /v1/completions answers 404 (chat-only hosted models)
    requests: list[dict[str, Any]] = field(default_factory=list)
    content_events_sent: int = 0  # streamed content events so far: lets tests see what arrived before the end
    # Seconds into a stall (``Reply.stall_s``) at which the client closed its connection; None: it never did.
    client_left_after_s: float | None = None
    _queue: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: "_QuietServer | None" = None
    _thread: threading.Thread | None = None
    port: int = 0

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _QuietServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; the port then refuses connections, like an endpoint that is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting -----------------------------------------------------------------
    def script(self, *replies: Reply | str) -> None:
        """Queue replies, answered in order (a str is a plain successful reply)."""
        with self._lock:
            self._queue.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        return self.responder(request) if self.responder else self.default

    @property
    def completion_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("_path", "").endswith("/chat/completions")]

    @property
    def text_completion_requests(self) -> list[dict[str, Any]]:
        """Requests to the plain-text completions API (``/v1/completions``)."""
        return [r for r in self.requests if r.get("_path", "").rstrip("/").endswith("/v1/completions")]


def _sentencepiece(token: str, first: bool) -> list[str]:
    """A token as SentencePiece pieces: a leading space (or the text's start) becomes "▁", long words split."""
    word = token.strip()
    if not word:
        return ["▁"] if token else []
    prefix = "▁" if token[:1].isspace() or first else ""
    pieces = [word[i : i + 4] for i in range(0, len(word), 4)]  # a vocabulary that knows short pieces only
    return [prefix + pieces[0], *pieces[1:]]


def _token_entries(reply: Reply, top_n: int, tokenizer: str = "openai") -> list[dict[str, Any]]:
    """Per-token logprob entries in the API's shape, scripted or derived from the text."""
    if reply.token_logprobs is not None:
        items = reply.token_logprobs
    else:
        # Confident tokens: each piece of the reply with probability ~0.99, alternatives far behind.
        items = [(piece, -0.01, {}) for piece in _PIECE.findall(reply.content)]
    if tokenizer == "sentencepiece":
        foreign = []
        for i, (token, logprob, alternatives) in enumerate(items):
            pieces = _sentencepiece(token, i == 0)
            alts = {_sentencepiece(t, i == 0)[0]: lp for t, lp in alternatives.items()}
            foreign += [(p, logprob if k == 0 else -0.01, alts if k == 0 else {}) for k, p in enumerate(pieces)]
        items = foreign
    entries = []
    for token, logprob, alternatives in items:
        top = {token: logprob, **alternatives}
        if len(top) < top_n:
            for i in range(top_n - len(top)):
                top.setdefault(f"<alt{i}>", -10.0 - i)
        ranked = sorted(top.items(), key=lambda kv: -kv[1])[:top_n]
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode("utf-8")),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in ranked
                ],
            }
        )
    return entries


class _QuietServer(ThreadingHTTPServer):
    """Clients that time out or hang up mid-reply are expected here, not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    # --- plumbing ----------------------------------------------------------------------
    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kinds = {401: "invalid_request_error", 429: "rate_limit_exceeded", 400: "invalid_request_error"}
        body = {"error": {"message": message, "type": kinds.get(status, "server_error"), "param": None, "code": None}}
        self._send_json(status, body, headers)

    def _authorised(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.fake.api_key}"

    # --- endpoints ------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802
        if not self._authorised():
            return self._send_error(401, "Incorrect API key provided.")
        if self.path.rstrip("/").endswith("/models"):
            return self._send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        self._send_error(404, f"no route {self.path}")

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            return self._send_error(400, "body is not JSON")
        request["_path"] = self.path
        text_api = self.path.rstrip("/").endswith("/v1/completions")
        if not (self.path.rstrip("/").endswith("/chat/completions") or text_api):
            return self._send_error(404, f"no route {self.path}")
        if not self._authorised():
            self.fake.requests.append(request)
            return self._send_error(401, "Incorrect API key provided.")
        if text_api:
            return self._text_completion(request)
        if request.get("logprobs") and self.fake.logprobs_error:
            self.fake.requests.append(request)
            return self._send_error(500, "logprobs is not supported")
        if request.get("logit_bias") and self.fake.tokenizer != "openai":
            self.fake.requests.append(request)
            return self._send_error(400, "logit_bias is not supported for this model's tokenizer")
        reply = self.fake.next_reply(request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            headers = {}
            if reply.retry_after_s is not None:
                headers = {
                    "Retry-After": str(max(0, math.ceil(reply.retry_after_s))),
                    "retry-after-ms": str(int(reply.retry_after_s * 1000)),
                }
            return self._send_error(reply.status, reply.error_message or f"scripted error {reply.status}", headers)
        try:
            if request.get("stream"):
                self._stream(request, reply)
            else:
                self._complete(request, reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to do

    def _logprobs(self, request: dict[str, Any], reply: Reply) -> dict[str, Any] | None:
        if not (request.get("logprobs") and reply.logprobs and self.fake.logprobs_supported):
            return None
        entries = _token_entries(reply, int(request.get("top_logprobs") or 0), self.fake.tokenizer)
        return {"content": entries, "refusal": None}

    @staticmethod
    def _usage(request: dict[str, Any], reply: Reply) -> dict[str, int]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
        completion = len(reply.content.split())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _complete(self, request: dict[str, Any], reply: Reply) -> None:
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or request.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content, "refusal": None},
                    "logprobs": self._logprobs(request, reply),
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": self._usage(request, reply),
        }
        self._send_json(200, body)

    def _client_leaves_within(self, seconds: float) -> bool:
        """Wait up to ``seconds``, watching the connection; True (and the time recorded) when the client closed it."""
        started = time.monotonic()
        while (left := seconds - (time.monotonic() - started)) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            # A closed connection reads as end-of-file, or as a reset when the client closed with unread data
            # (the client sends nothing else while it waits).
            if readable and self._peek() == b"":
                self.fake.client_left_after_s = time.monotonic() - started
                self.close_connection = True
                return True
        return False

    def _peek(self) -> bytes | None:
        try:
            return self.connection.recv(1, socket.MSG_PEEK)
        except ConnectionResetError:
            return b""

    def _text_completion(self, request: dict[str, Any]) -> None:
        """The completions API: one ``text`` choice; ``logprobs`` (an int) as the API's parallel lists."""
        if not self.fake.completions_supported:
            self.fake.requests.append(request)
            return self._send_error(404, "This is a chat model and not supported in the v1/completions endpoint.")
        if request.get("stream"):
            return self._send_error(400, "the fake streams chat completions only")
        reply = self.fake.next_reply(request)
        if reply.status != 200:
            return self._send_error(reply.status, reply.error_message or f"scripted error {reply.status}")
        logprobs = None
        if request.get("logprobs") and reply.logprobs and self.fake.logprobs_supported:
            entries = _token_entries(reply, int(request["logprobs"]), self.fake.tokenizer)
            logprobs = {
                "tokens": [e["token"] for e in entries],
                "token_logprobs": [e["logprob"] for e in entries],
                "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
                "text_offset": [0] * len(entries),
            }
        choice = {"index": 0, "text": reply.content, "logprobs": logprobs, "finish_reason": reply.finish_reason}
        self._send_json(200, {
            "id": f"cmpl-{uuid.uuid4().hex[:12]}", "object": "text_completion", "created": int(time.time()),
            "model": reply.model or request.get("model", "fake-model"), "choices": [choice],
            "usage": {"prompt_tokens": len(str(request.get("prompt", "")).split()),
                      "completion_tokens": len(reply.content.split()),
                      "total_tokens": len(str(request.get("prompt", "")).split()) + len(reply.content.split())},
        })  # fmt: skip

    def _stream(self, request: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model or request.get("model", "fake-model"),
        }
        logprobs = self._logprobs(request, reply)
        entries = logprobs["content"] if logprobs else None

        def write(payload: bytes) -> None:
            # Chunked transfer encoding, so a connection dropped mid-stream is an incomplete body to the client.
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        def event(delta: dict[str, Any], finish: str | None = None, lp: Any = None) -> None:
            choice = {"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}
            write(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n".encode())

        event({"role": "assistant", "content": ""})
        pieces = [e["token"] for e in entries] if entries else _PIECE.findall(reply.content)
        if self.fake.tokenizer == "sentencepiece":  # content is decoded text; only logprobs show the pieces
            pieces = [p.replace("▁", " ") for p in pieces]
            pieces[:1] = [p.lstrip() for p in pieces[:1]]
        for i, piece in enumerate(pieces):
            if reply.cut_after_chunks is not None and i >= reply.cut_after_chunks:
                # Simulate a dropped connection: no finish_reason, no [DONE], no final chunk.
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if reply.chunk_delay_s:
                time.sleep(reply.chunk_delay_s)
            if reply.stall_after_chunks is not None and i == reply.stall_after_chunks:
                if self._client_leaves_within(reply.stall_s):
                    return  # like a real server: stop computing for a client that has gone
            lp = {"content": [entries[i]], "refusal": None} if entries else None
            event({"content": piece}, lp=lp)
            self.fake.content_events_sent += 1
        event({}, finish=reply.finish_reason)
        if (request.get("stream_options") or {}).get("include_usage"):
            write(f"data: {json.dumps({**base, 'choices': [], 'usage': self._usage(request, reply)})}\n\n".encode())
        write(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
