"""What offline cross-language retrieval costs per warm ``ask``: p50/p95 with it on and off.

Indexes the sample corpus into a temporary data directory, warms both apps
(embedder, term table), then asks every question of
``ingest/sample_corpus/questions-answerability.jsonl`` as its asker with the
extractive answerer, on and off in turns (one app at a time: the embedded index has one
opener), so load on a shared machine hits both alike. Ends with one JSON line (with the load average, since this machine is shared).

    python bench/cross_language.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import KuraApp, sample_connector  # noqa: E402
from core.settings import Settings  # noqa: E402
from eval.corpus import load_corpus  # noqa: E402

QUESTIONS = Path(__file__).resolve().parent.parent / "ingest" / "sample_corpus" / "questions-answerability.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    grants = load_corpus("sample").grants
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        with KuraApp(Settings(data_dir=data, cross_language=False)) as builder:
            builder.ingest(sample_connector())
        times: dict[bool, list[float]] = {True: [], False: []}
        # One app at a time (the embedded index admits one opener); on and off take turns each round.
        for _ in range(args.rounds):
            for flag in (True, False):
                with KuraApp(Settings(data_dir=data, cross_language=flag)) as app:
                    app.ask("warm-up question about the VPN", principals=["public"], answerer="extractive")
                    app.ask("VPNの設定方法は？", principals=["public"], answerer="extractive")  # loads the term table
                    for q in questions:
                        principals = ["public", *grants.get(q["asker"] or "", ())]
                        started = time.perf_counter()
                        app.ask(q["question"], principals=principals, answerer="extractive")
                        times[flag].append((time.perf_counter() - started) * 1000)

    def p(values: list[float], q: int) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1], 1)

    print(json.dumps({
        "bench": "cross_language_ask", "questions": len(questions) * args.rounds,
        "p50_ms_on": p(times[True], 50), "p50_ms_off": p(times[False], 50),
        "p95_ms_on": p(times[True], 95), "p95_ms_off": p(times[False], 95),
        "p50_delta_ms": round(p(times[True], 50) - p(times[False], 50), 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
