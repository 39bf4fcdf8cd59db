"""Request bodies: identity is checked first, then the size cap, before anything reads the body."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from tests.bots.web.conftest import ALICE, ServerThread, as_user

CAP = 4096


def raw_post(url: str, path: str, headers: dict[str, str], length: int) -> int:
    """POST announcing ``length`` bytes and sending none: the status comes back only if the server reads nothing."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return int(conn.recv(4096).split(b" ", 2)[1])


def test_a_100_mb_request_is_refused_without_being_read(make_web):
    web = make_web(web_max_body_bytes=CAP)
    with ServerThread(web.app) as server:
        # No identity: 401 first, whatever the size.
        assert raw_post(server.url, "/api/ask", {}, 100_000_000) == 401
        # Signed in, but too large: 413, still without reading.
        assert raw_post(server.url, "/api/ask", as_user(ALICE), 100_000_000) == 413
        assert raw_post(server.url, "/api/stream", as_user(ALICE), 100_000_000) == 413
        # The local login form takes a body from anyone: capped too.
        assert raw_post(server.url, "/login", {}, 100_000_000) == 413


def test_a_chunked_body_past_the_cap_is_413(make_web):
    client = TestClient(make_web(web_max_body_bytes=CAP).app)
    chunks = (b'{"question": "' + b"a" * 1000 for _ in range(10))
    response = client.post("/api/ask", content=chunks, headers={**as_user(ALICE), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": f"request body too large: the limit is {CAP} bytes", "status": 413}


def test_without_identity_a_body_is_401_even_when_it_is_not_json(make_web):
    client = TestClient(make_web().app)
    response = client.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 401 and response.json()["error"] == "sign in to use Kura"


def test_bodies_under_the_cap_are_answered(make_web):
    client = TestClient(make_web(web_max_body_bytes=CAP).app)
    response = client.post("/api/ask", json={"question": "Who approves expenses?"}, headers=as_user(ALICE))
    assert response.status_code == 200
