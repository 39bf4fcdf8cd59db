"""Warm ``ask`` latency with the extractive answerer, over the index in KURA_DATA_DIR. Ends with one JSON line.

Asks the sample corpus's evaluation questions (their askers' principals ignored: public documents) once to
warm every cache that a long-running server has warm (models, Sudachi, tokenization), then ``--rounds``
more times with the question text varied each round (a suffix), so the answerability model's vector cache
does not answer for it. Run it on two checkouts against the same index to measure a change:

    kura ingest && python bench/ask_latency.py [--rounds 3]
    PYTHONPATH=../main python ../main/bench/ask_latency.py   # the same script from another checkout
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/ itself off the path (its retrieval.py would shadow the package); the checkout appended, so a
# PYTHONPATH pointing at another checkout wins.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(ROOT))

from bots.app import KuraApp  # noqa: E402
from core.settings import load_settings  # noqa: E402

SUFFIXES = ["", " please", " exactly", " now", " today", " again"]


def questions() -> list[str]:
    path = ROOT / "ingest" / "sample_corpus" / "questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cold-sentences", action="store_true",
                    help="empty the answerability model's sentence-vector cache before every ask (a server's first sight of a chunk)")
    args = ap.parse_args()
    app = KuraApp(load_settings())
    asked = questions()
    for q in asked:  # warm-up round, not measured
        app.ask(q, principals=("public",), answerer="extractive")
    total, answer = [], []
    for r in range(args.rounds):
        suffix = SUFFIXES[1 + r % (len(SUFFIXES) - 1)]
        for q in asked:
            model = app.__dict__.get("answerability")  # absent in checkouts without the answerability model
            if args.cold_sentences and model is not None:
                model.clear_cache()
                model.sentence_store = None  # nor the vectors earlier processes stored in the data dir
            t0 = time.perf_counter()
            result = app.ask(q.rstrip("?？") + suffix + ("？" if q.endswith("？") else "?"), principals=("public",),
                             answerer="extractive")
            total.append((time.perf_counter() - t0) * 1000)
            answer.append(result.timings_ms.get("answer", 0.0))
    code = Path(sys.modules["bots.app"].__file__).resolve().parent.parent  # the checkout actually measured
    commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(json.dumps({
        "bench": "ask_latency", "commit": commit.stdout.strip(), "questions": len(total),
        "cold_sentences": args.cold_sentences,
        "ask_p50_ms": round(statistics.median(total), 2),
        "ask_p95_ms": round(statistics.quantiles(total, n=20)[-1], 2),
        "answer_step_p50_ms": round(statistics.median(answer), 2),
        "load_average": [round(x, 2) for x in __import__("os").getloadavg()],
    }))


if __name__ == "__main__":
    main()
