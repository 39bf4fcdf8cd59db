"""A loopback fake of the Slack Web API methods the Slack *bot* calls, for tests that drive the real WebClient.

(The Slack *connector*'s fake, with history export, lives in fake_slack.py.)

    with FakeSlackWeb() as slack:
        slack.add_user("U1", email="alice@example.com")
        slack.add_channel("C1", members=["U1", slack.bot_user_id])
        client = WebClient(token=slack.token, base_url=slack.url)
        ...
        slack.calls_to("chat.update")  # what the client sent, in order

Every call is first checked against Slack's OpenAPI spec and the Block Kit limits
(:mod:`tests.fakes.slack_spec`: ``invalid_arg_name``, ``invalid_blocks``, ``msg_too_long``).
What it reproduces of the real API: the bearer-token check (``not_authed``, ``invalid_auth``),
the ``{"ok": false, "error": ...}`` shape with the real error codes
(``channel_not_found``, ``user_not_found``, ``message_not_found``), GET query
and POST form or JSON bodies, cursor pagination (``limit``,
``response_metadata.next_cursor``) for ``conversations.members`` and
``conversations.replies``, and scripted HTTP 429 with ``Retry-After``. Posted
messages are kept, so ``conversations.replies`` returns what the bot wrote.

Methods: apps.connections.open (app token), auth.test, chat.postMessage, chat.update, chat.postEphemeral,
conversations.info, conversations.members, conversations.replies, users.info,
views.open.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from tests.fakes.slack_spec import explain_call


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class FakeSlackWeb:
    """Slack Web API state (users, channels, messages) behind a loopback HTTP server."""

    def __init__(self, token: str = "xoxb-fake-token", bot_user_id: str = "UKURA", bot_id: str = "BKURA",
                 *, app_token: str = "xapp-fake-token", socket_url: str = "") -> None:
        self.token = token
        self.app_token = app_token
        self.socket_url = socket_url  # what apps.connections.open hands out (see fake_slack_socket.py)
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = "T0001"
        self.calls: list[Call] = []
        self.rejected: list[Call] = []  # calls answered with a spec error (unknown argument, bad blocks, ...)
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self._rate_limits: dict[str, list[float]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Condition()
        self.add_user(bot_user_id, is_bot=True)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def __enter__(self) -> "FakeSlackWeb":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- state -----------------------------------------------------------------------
    def add_user(self, user_id: str, *, email: str | None = None, is_bot: bool = False,
                 is_restricted: bool = False) -> None:
        profile = {"real_name": user_id, **({"email": email} if email else {})}
        self.users[user_id] = {"id": user_id, "team_id": self.team_id, "name": user_id.lower(), "is_bot": is_bot,
                               "is_restricted": is_restricted, "deleted": False, "profile": profile}

    def add_channel(self, channel_id: str, *, members: list[str], is_private: bool = False, is_im: bool = False,
                    is_ext_shared: bool = False) -> None:
        self.channels[channel_id] = {
            "info": {"id": channel_id, "name": channel_id.lower(), "is_channel": not is_im and not is_private,
                     "is_group": is_private, "is_im": is_im, "is_private": is_private or is_im,
                     "is_ext_shared": is_ext_shared, "is_member": True},
            "members": list(members),
        }

    def add_message(self, channel: str, *, user: str, text: str, ts: str, thread_ts: str | None = None) -> None:
        message = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self.messages.setdefault(channel, []).append(message)

    def rate_limit_next(self, method: str, *, retry_after_s: float = 1) -> None:
        """The next call of ``method`` gets HTTP 429 with this Retry-After."""
        self._rate_limits.setdefault(method, []).append(retry_after_s)

    # --- inspection ------------------------------------------------------------------
    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.params for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """Block until ``method`` was called ``count`` times (the bot answers on a worker thread)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while sum(1 for c in self.calls if c.method == method) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{method} called {len(self.calls_to(method))} times, expected {count}")
                self._lock.wait(left)
            return [c.params for c in self.calls if c.method == method]

    # --- the API ---------------------------------------------------------------------
    def _handle(self, method: str, params: dict[str, Any], auth: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._rate_limits.get(method):
            retry_after = self._rate_limits[method].pop(0)
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(int(retry_after))}
        with self._lock:
            self.calls.append(Call(method, params))
            self._lock.notify_all()
        if not auth:
            return 200, {"ok": False, "error": "not_authed"}, {}
        # apps.connections.open is the one method called with the app-level token, and only with it.
        expected = self.app_token if method == "apps.connections.open" else self.token
        if auth != f"Bearer {expected}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        error, why = explain_call(method, params, auth)  # the official spec's parameters, Block Kit limits
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if error is None and handler is None:
            error = "unknown_method"
        if error is not None:
            with self._lock:
                self.rejected.append(Call(method, params))
            return 200, {"ok": False, "error": error, "response_metadata": {"messages": [why]}}, {}
        with self._lock:
            return 200, handler(params), {}

    def _api_auth_test(self, p):
        return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "kura",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id}

    def _api_apps_connections_open(self, p):
        return {"ok": True, "url": self.socket_url} if self.socket_url else {"ok": False, "error": "not_allowed"}

    def _api_chat_postMessage(self, p):
        if p.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = f"1700001{next(self._ts):03d}.000100"
        message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "text": p.get("text", ""),
                   "blocks": p.get("blocks") or [], "ts": ts}
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        self.messages.setdefault(p["channel"], []).append(message)
        return {"ok": True, "channel": p["channel"], "ts": ts, "message": message}

    def _api_chat_update(self, p):
        for message in self.messages.get(p.get("channel"), []):
            if message["ts"] == p.get("ts"):
                message.update(text=p.get("text", ""), blocks=p.get("blocks") or [])
                return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _api_chat_postEphemeral(self, p):
        if p.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": f"1700009{next(self._ts):03d}.000100"}

    def _api_conversations_info(self, p):
        channel = self.channels.get(p.get("channel"))
        return {"ok": True, "channel": channel["info"]} if channel else {"ok": False, "error": "channel_not_found"}

    def _api_conversations_members(self, p):
        channel = self.channels.get(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        page, next_cursor = self._page(channel["members"], p)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_replies(self, p):
        if p.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        root = p.get("ts")
        thread = [m for m in self.messages.get(p["channel"], []) if m["ts"] == root or m.get("thread_ts") == root]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        thread.sort(key=lambda m: float(m["ts"]))
        page, next_cursor = self._page(thread, p)
        return {"ok": True, "messages": page, "has_more": bool(next_cursor),
                "response_metadata": {"next_cursor": next_cursor}}

    def _api_users_info(self, p):
        user = self.users.get(p.get("user"))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _api_views_open(self, p):
        if not p.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {"id": "V0001", **(p.get("view") or {})}}

    @staticmethod
    def _page(items: list, p: dict[str, Any]) -> tuple[list, str]:
        limit = int(p.get("limit") or 100)
        start = int(p.get("cursor") or 0)
        end = start + limit
        return items[start:end], (str(end) if end < len(items) else "")

    # --- HTTP ------------------------------------------------------------------------
    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                url = urlparse(self.path)
                if not url.path.startswith("/api/"):
                    self.send_error(404)
                    return
                params: dict[str, Any] = dict(parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                if body and "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(body))
                elif body:
                    params.update(parse_qsl(body))
                for key in ("blocks", "view"):  # form-encoded calls send these as JSON strings
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                status, payload, headers = fake._handle(url.path[len("/api/"):], params,
                                                        self.headers.get("Authorization", ""))
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

        return Handler
