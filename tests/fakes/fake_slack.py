"""A fake Slack Web API (``/api/<method>``) for the real slack-sdk WebClient.

Reproduces what Kura reads: ``auth.test``, ``users.list``, ``conversations.list``
/ ``members`` / ``history`` / ``replies`` with ``response_metadata.next_cursor``
paging, thread fields on parents (``reply_count``, ``latest_reply``), replies
broadcast to the channel, ``ok: false`` errors (``token_expired``,
``not_in_channel``, ``thread_not_found``) and 429 + Retry-After (injected).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http_fake import FakeServer, Request, Response
from tests.fakes.slack_spec import explain_call


@dataclass
class Channel:
    id: str
    name: str
    private: bool = False
    members: list[str] = field(default_factory=list)
    bot_member: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)  # parents, oldest first; replies inside
    broken_threads: set[str] = field(default_factory=set)  # replies answer 500 for these ts


class FakeSlack(FakeServer):
    def __init__(self, token: str = "xoxb-test-token", page_size: int = 2) -> None:
        super().__init__()
        self.token = token
        self.page_size = page_size
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.expired = False
        self._ts = time.time() - 3 * 86400  # messages start three days ago, well inside the refresh window

    # --- test data -----------------------------------------------------------------------
    def next_ts(self) -> str:
        self._ts += 1.5
        return f"{self._ts:.6f}"

    def add_user(self, user_id: str, name: str, email: str) -> None:
        self.users[user_id] = {"id": user_id, "name": name.lower().split()[0], "real_name": name, "deleted": False,
                               "is_bot": False, "profile": {"real_name": name, "display_name": name, "email": email}}

    def post(self, channel: str, user: str, text: str, ts: str | None = None) -> str:
        ts = ts or self.next_ts()
        self.channels[channel].messages.append({"type": "message", "user": user, "text": text, "ts": ts,
                                                "replies": []})
        return ts

    def reply(self, channel: str, parent_ts: str, user: str, text: str, broadcast: bool = False) -> str:
        parent = self._parent(channel, parent_ts)
        ts = self.next_ts()
        parent["replies"].append({"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": parent_ts,
                                  "broadcast": broadcast})
        return ts

    def edit(self, channel: str, ts: str, text: str) -> None:
        message = self._parent(channel, ts)
        message["text"] = text
        message["edited"] = {"user": message["user"], "ts": self.next_ts()}

    def delete(self, channel: str, ts: str) -> None:
        self.channels[channel].messages = [m for m in self.channels[channel].messages if m["ts"] != ts]

    def _parent(self, channel: str, ts: str) -> dict[str, Any]:
        return next(m for m in self.channels[channel].messages if m["ts"] == ts)

    # --- routing -------------------------------------------------------------------------
    def route(self, req: Request) -> Response:
        method = req.path.removeprefix("/api/")
        params = {k: v[0] for k, v in req.query.items()}
        if req.body:
            params.update({k: v[0] for k, v in parse_qs(req.body.decode("utf-8")).items()})
        auth = req.headers.get("authorization", "")
        if not auth:
            return Response(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {self.token}":
            return Response(200, {"ok": False, "error": "invalid_auth"})
        error, why = explain_call(method, params, auth)  # the official spec's arguments
        if error is not None:
            return Response(200, {"ok": False, "error": error, "response_metadata": {"messages": [why]}})
        if self.expired:
            return Response(200, {"ok": False, "error": "token_expired"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return Response(200, {"ok": False, "error": "unknown_method"})
        return handler(params)

    def _page(self, params: dict[str, str], key: str, items: list[Any], **extra) -> Response:
        start = int(params.get("cursor") or 0)
        size = min(int(params.get("limit") or 100), self.page_size)
        body = {"ok": True, key: items[start:start + size], **extra,
                "response_metadata": {"next_cursor": str(start + size) if start + size < len(items) else ""}}
        return Response(200, body)

    def _channel(self, params: dict[str, str]) -> Channel | Response:
        channel = self.channels.get(params.get("channel", ""))
        if channel is None:
            return Response(200, {"ok": False, "error": "channel_not_found"})
        if not channel.bot_member:
            return Response(200, {"ok": False, "error": "not_in_channel"})
        return channel

    def _auth_test(self, params) -> Response:
        return Response(200, {"ok": True, "url": "https://kura-test.slack.com/", "team": "Kura Test", "user": "kura",
                              "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"})

    def _users_list(self, params) -> Response:
        return self._page(params, "members", list(self.users.values()))

    def _conversations_list(self, params) -> Response:
        types = params.get("types", "public_channel").split(",")
        items = [{"id": c.id, "name": c.name, "is_channel": not c.private, "is_group": c.private,
                  "is_private": c.private, "is_archived": False, "is_member": c.bot_member,
                  "num_members": len(c.members)}
                 for c in self.channels.values()
                 if ("private_channel" if c.private else "public_channel") in types]
        return self._page(params, "channels", items)

    def _conversations_members(self, params) -> Response:
        channel = self._channel(params)
        return channel if isinstance(channel, Response) else self._page(params, "members", list(channel.members))

    def _as_parent(self, message: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in message.items() if k != "replies"}
        if message["replies"]:
            out.update(thread_ts=message["ts"], reply_count=len(message["replies"]),
                       reply_users=sorted({r["user"] for r in message["replies"]}),
                       latest_reply=message["replies"][-1]["ts"])
        return out

    def _conversations_history(self, params) -> Response:
        channel = self._channel(params)
        if isinstance(channel, Response):
            return channel
        oldest = float(params.get("oldest") or 0)
        items = [self._as_parent(m) for m in channel.messages]
        for m in channel.messages:  # replies sent to the channel too
            items += [{**{k: v for k, v in r.items() if k != "broadcast"}, "subtype": "thread_broadcast"}
                      for r in m["replies"] if r.get("broadcast")]
        items = sorted((m for m in items if float(m["ts"]) > oldest), key=lambda m: float(m["ts"]), reverse=True)
        return self._page(params, "messages", items, has_more=False)

    def _conversations_replies(self, params) -> Response:
        channel = self._channel(params)
        if isinstance(channel, Response):
            return channel
        ts = params.get("ts", "")
        if ts in channel.broken_threads:
            return Response(500, {"ok": False, "error": "internal_error"})
        parent = next((m for m in channel.messages if m["ts"] == ts), None)
        if parent is None:
            return Response(200, {"ok": False, "error": "thread_not_found"})
        replies = [{k: v for k, v in r.items() if k != "broadcast"} for r in parent["replies"]]
        return self._page(params, "messages", [self._as_parent(parent)] + replies, has_more=False)
