"""Web chat latency and page weight, over a real uvicorn and the index in KURA_DATA_DIR.

Asks the sample corpus's evaluation questions through ``POST /api/stream``,
one at a time and then ``--concurrency`` at once, and reports time to the first
event, to the first answer text and to the finished answer (p50 / p95), plus
the bytes a first visit downloads. Ends with one JSON line.

    kura ingest && python bench/web_chat.py [--rounds 2] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import KuraApp  # noqa: E402
from bots.web.app import create_app  # noqa: E402
from core.settings import load_settings  # noqa: E402

QUESTIONS = Path(__file__).resolve().parent.parent / "ingest" / "sample_corpus" / "questions.jsonl"
USER = "daichi.yamamoto@hoshi-robotics.example"


def serve(app) -> str:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def one_question(base: str, question: str) -> dict[str, float]:
    """Seconds to the first event, the first answer text and the end of the stream."""
    started = time.perf_counter()
    marks: dict[str, float] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        with client.stream("POST", "/api/stream", json={"question": question}, headers={"X-Forwarded-Email": USER}) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                now = time.perf_counter() - started
                marks.setdefault("first_event", now)
                if line.startswith("event: delta"):
                    marks.setdefault("first_text", now)
                if line.startswith("event: error"):
                    raise RuntimeError("the stream ended with an error")
    marks["done"] = time.perf_counter() - started
    marks.setdefault("first_text", marks["done"])
    return marks


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key in ("first_event", "first_text", "done"):
        values = sorted(r[key] for r in runs)
        out[f"{key}_p50_ms"] = round(statistics.median(values) * 1000, 1)
        out[f"{key}_p95_ms"] = round(values[max(0, int(len(values) * 0.95) - 1)] * 1000, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times each question is asked per phase")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    settings = load_settings(web_auth_header="X-Forwarded-Email")
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    with KuraApp(settings) as kura:
        if not kura.store.exists():
            sys.exit("no index: run `kura ingest` first")
        kura.retriever  # load the model before timing
        base = serve(create_app(kura, settings))
        one_question(base, questions[0])  # warm-up

        serial = [one_question(base, q) for _ in range(args.rounds) for q in questions]
        wall = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            parallel = list(pool.map(lambda q: one_question(base, q), questions * args.rounds))
        wall = time.perf_counter() - wall

        with httpx.Client(base_url=base, headers={"X-Forwarded-Email": USER}) as client:
            page = client.get("/")
            assets = [part.split('"')[0] for part in page.text.split('="/static/')[1:]]
            weight = len(page.content) + sum(len(client.get("/static/" + a).content) for a in assets)

    result = {
        "questions": len(serial),
        "serial": summary(serial),
        f"concurrent_{args.concurrency}": {**summary(parallel), "answers_per_s": round(len(parallel) / wall, 1)},
        "first_visit_bytes": weight,
    }
    print(f"serial:     {result['serial']}")
    print(f"concurrent: {result[f'concurrent_{args.concurrency}']}")
    print(f"first visit downloads {weight:,} bytes (HTML + CSS + JS + icon, uncompressed)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
