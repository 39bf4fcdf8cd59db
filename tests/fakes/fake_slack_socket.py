"""A loopback fake of Slack's Socket Mode WebSocket, for tests that drive the real slack_sdk SocketModeClient.

The client gets the URL from ``apps.connections.open`` (FakeSlackWeb answers it with ``socket.url``), connects,
receives ``hello``, then envelopes the test pushes with ``send_envelope``; it must acknowledge each with
``{"envelope_id": ...}``, which ``wait_for_ack`` returns.

    with FakeSlackSocket() as socket_server, FakeSlackWeb(socket_url=socket_server.url) as web:
        ...
        envelope_id = socket_server.send_envelope("events_api", event_callback_body)
        socket_server.wait_for_ack(envelope_id)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from websockets.sync.server import ServerConnection, serve


class FakeSlackSocket:
    """Socket Mode server: hello on connect, envelopes on demand, acks recorded."""

    def __init__(self) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self._connections: list[ServerConnection] = []
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket=fake"

    def __enter__(self) -> "FakeSlackSocket":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "AKURA"}, "debug_info": {"host": "fake"}}))
        with self._changed:
            self._connections.append(connection)
            self._changed.notify_all()
        for raw in connection:  # until the client closes
            message = json.loads(raw)
            if "envelope_id" in message:
                with self._changed:
                    self.acks[message["envelope_id"]] = message
                    self._changed.notify_all()

    def wait_connected(self, timeout_s: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._connections, timeout_s):
                raise AssertionError("the Socket Mode client did not connect")

    def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push one envelope (``events_api``, ``interactive``, ``slash_commands``) to the client."""
        self.wait_connected()
        envelope_id = f"env-{next(self._ids)}"
        self._connections[-1].send(json.dumps({
            "envelope_id": envelope_id, "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": "",
        }))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while envelope_id not in self.acks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"envelope {envelope_id} was not acknowledged")
                self._changed.wait(left)
            return self.acks[envelope_id]
