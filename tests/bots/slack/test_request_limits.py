"""The Events API endpoint checks the signature before parsing and reads no more than its body cap."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time

import pytest
import uvicorn
from slack_bolt import App

from bots.slack.server import EVENTS_PATH, http_app

SECRET = "limits-secret"
CAP = 4096


def signed_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


@pytest.fixture
def endpoint():
    """The real endpoint on uvicorn over a bolt App whose listener counts what gets dispatched."""
    # Signed events under the cap reaching the listeners: tests/bots/slack/test_slack_http.py.
    bolt = App(signing_secret=SECRET, token="xoxb-test", token_verification_enabled=False)
    dispatched = []
    bolt.event("app_mention")(lambda ack, body: (dispatched.append(body), ack()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(http_app(bolt, signing_secret=SECRET, max_body_bytes=CAP),
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield sock.getsockname()[1], dispatched
    server.should_exit = True
    thread.join(10)
    sock.close()


def raw_post(port: int, headers: dict[str, str], body: bytes = b"", *, length: int | None = None) -> int:
    """POST with a declared length that may exceed what is sent; returns the status (the server must not wait)."""
    lines = [f"POST {EVENTS_PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {len(body) if length is None else length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return int(conn.recv(4096).split(b" ", 2)[1])


def chunked_post(port: int, headers: dict[str, str], chunks: int, chunk: bytes) -> tuple[int, int]:
    """POST a chunked body, one chunk at a time; returns (status, chunks sent before the answer came)."""
    head = [f"POST {EVENTS_PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            "Transfer-Encoding: chunked", *[f"{k}: {v}" for k, v in headers.items()]]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        conn.settimeout(0.05)
        for sent in range(chunks):
            try:
                reply = conn.recv(4096)
                if reply:
                    return int(reply.split(b" ", 2)[1]), sent
            except socket.timeout:
                pass
            try:
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break
        conn.settimeout(5)
        return int(conn.recv(4096).split(b" ", 2)[1]), chunks


def test_unsigned_bad_json_is_401_not_500(endpoint):
    port, dispatched = endpoint
    assert raw_post(port, {}, b"{not json") == 401
    assert dispatched == []


def test_signed_with_the_wrong_secret_is_401_and_signed_bad_json_is_400(endpoint):
    port, _ = endpoint
    body = b"{not json"
    assert raw_post(port, signed_headers(body, "wrong-secret"), body) == 401
    assert raw_post(port, signed_headers(body), body) == 400


def test_a_declared_oversize_body_is_413_without_being_read(endpoint):
    port, dispatched = endpoint
    # 100 MB announced, nothing sent: the answer comes at once, so the server read nothing.
    assert raw_post(port, signed_headers(b"x"), length=100_000_000) == 413
    # Without a signature it is 401 before the size is even looked at.
    assert raw_post(port, {}, length=100_000_000) == 401
    assert dispatched == []


def test_a_chunked_body_is_cut_off_at_the_cap(endpoint):
    port, dispatched = endpoint
    status, sent = chunked_post(port, signed_headers(b"x"), chunks=200, chunk=b"a" * 1024)
    assert status == 413 and sent < 50  # refused soon after the 4 KiB cap, not after the 200 KiB sent
    assert dispatched == []
