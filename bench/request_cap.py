"""Peak memory of the web chat and the Slack endpoint while they refuse 100 MB requests; prints one JSON line.

    python bench/request_cap.py [--mb 100]

Each server runs in its own process (uvicorn, the real apps, default 1 MiB caps,
an empty data directory: nothing here needs an index). For each kind of request
the client really sends the whole body (or until the server hangs up), then the
server's peak resident memory (``VmHWM``) is read from /proc. Kinds:

* web: unauthenticated with Content-Length; signed in with Content-Length;
  signed in, chunked (no length);
* slack: unsigned; signature headers with a Content-Length; signature headers, chunked.

``growth_mb`` is the peak after all of them minus the resident memory before the
first: what refusing 6 x 100 MB cost the servers.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = b"a" * (1 << 20)

WEB_SERVER = """
import sys, uvicorn
from bots.app import KuraApp
from bots.web.app import create_app
from core.settings import Settings
settings = Settings(_env_file=None, data_dir=sys.argv[2], web_auth_header="X-Forwarded-Email")
uvicorn.run(create_app(KuraApp(settings), settings), host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
"""
SLACK_SERVER = """
import sys, uvicorn
from slack_bolt import App
from bots.slack.server import http_app
bolt = App(signing_secret="bench-secret", token="xoxb-bench", token_verification_enabled=False)
uvicorn.run(http_app(bolt, signing_secret="bench-secret"), host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def start(code: str, data_dir: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", code, str(port), data_dir], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def send(port: int, path: str, headers: dict[str, str], megabytes: int, *, chunked: bool) -> dict:
    """Send the whole body (until the server hangs up); returns the status and how much went out."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {megabytes * len(CHUNK)}")
    head += [f"{k}: {v}" for k, v in headers.items()]
    sent = 0
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for _ in range(megabytes):
                piece = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK
                conn.sendall(piece)
                sent += len(CHUNK)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: what it did not read never reached it
        try:
            status = int(conn.recv(4096).split(b" ", 2)[1])
        except (OSError, IndexError, ValueError):
            status = None
    return {"status": status, "sent_mb": round(sent / len(CHUNK)), "seconds": round(time.perf_counter() - started, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    result: dict = {"request_mb": args.mb}
    stale = str(int(time.time()))
    slack_headers = {"X-Slack-Request-Timestamp": stale, "X-Slack-Signature": "v0=" + "0" * 64}
    web_user = {"X-Forwarded-Email": "aiko.tanaka@hoshi-robotics.example"}
    with tempfile.TemporaryDirectory() as data_dir:
        for name, code, cases in (
            ("web", WEB_SERVER, [("unauthenticated", "/api/ask", {}, False),
                                 ("signed_in", "/api/ask", web_user, False),
                                 ("signed_in_chunked", "/api/ask", web_user, True)]),
            ("slack", SLACK_SERVER, [("unsigned", "/slack/events", {}, False),
                                     ("bad_signature", "/slack/events", slack_headers, False),
                                     ("bad_signature_chunked", "/slack/events", slack_headers, True)]),
        ):
            process, port = start(code, data_dir)
            try:
                before = memory_mb(process.pid)
                for case, path, headers, chunked in cases:
                    result[f"{name}_{case}"] = send(port, path, headers, args.mb, chunked=chunked)
                after = memory_mb(process.pid)
                result[f"{name}_rss_before_mb"] = round(before["VmRSS"], 1)
                result[f"{name}_peak_rss_mb"] = round(after["VmHWM"], 1)
                result[f"{name}_growth_mb"] = round(after["VmHWM"] - before["VmRSS"], 1)
            finally:
                process.terminate()
                process.wait(10)
    result["load_average"] = os.getloadavg()[0]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
