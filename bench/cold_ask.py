"""Cold `kura ask`: a new process per question, extractive answerer, the sample corpus.

Indexes the sample corpus into a temporary data dir (once, not timed), then
runs `python -m bots.cli ask QUESTION` --runs times as separate processes and
times each from spawn to exit (wall time, and the process's CPU time: on a
machine shared with other jobs the wall time mostly measures the queue). One more run under `python -X importtime`
lists the slowest imports and checks that neither torch nor
sentence-transformers (nor transformers, nor the openai SDK, nor OpenVINO's conversion tools and their
telemetry sender) is imported on the query path. Ends with one JSON line.

The repository's modules are byte-compiled first, as ``make install`` leaves them: a new worktree under
``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile ~50 modules from source in every run (~0.1 s).

Runs after the first see sentences an earlier ask stored in the data dir (``chat/sentence_vectors.py``), as a
deployed Kura does; ``--fresh-sentences`` deletes them before every run, so each ask embeds its sentences anew.

    python bench/cold_ask.py [--runs 10] [--question "..."] [--fresh-sentences]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = ("Who has to approve an expense report over 50,000 yen?", "How do I set up the VPN?",
             "経費精算申請書はいつまでに提出する必要がありますか？")
PACKAGES = ("core", "ingest", "retrieval", "chat", "bots", "eval")


def kura(args: list[str], env: dict, *, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *python_flags, "-m", "bots.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def slowest_imports(stderr: str, top: int = 8) -> tuple[list[tuple[str, float]], float, set[str]]:
    """(module, cumulative ms) of the slowest top-level imports, the total, and every module imported."""
    rows, modules = [], set()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        modules.add(name.strip())
        if not name.startswith("  "):  # a top-level import (no indentation after the bar's space)
            rows.append((name.strip(), int(cumulative) / 1000))
    rows.sort(key=lambda r: -r[1])
    return rows[:top], sum(ms for _, ms in rows), modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--question", default=None, help="one question for every run (default: cycle 3, EN and JA)")
    parser.add_argument("--fresh-sentences", action="store_true",
                        help="delete the data dir's sentence vectors before each run (a first sight of every sentence)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kura-bench-cold-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
        env.update({"KURA_DATA_DIR": str(Path(tmp) / "data"), "KURA_ANSWERER": "extractive", "HF_HUB_OFFLINE": "1",
                    "PYTHONPATH": str(REPO)})
        compiled = subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=REPO,
                                  capture_output=True, text=True)
        if compiled.returncode != 0:
            sys.exit(f"byte-compiling failed: {compiled.stdout.strip()} {compiled.stderr.strip()}")
        ingested = kura(["ingest"], env)
        if ingested.returncode != 0:
            sys.exit(f"ingest failed: {ingested.stderr.strip()}")
        kura(["ask", "warm the page cache"], env)  # file-system caches, as on a machine in use; not timed
        seconds, cpu_seconds = [], []
        for i in range(args.runs):
            question = args.question or QUESTIONS[i % len(QUESTIONS)]
            if args.fresh_sentences:
                for stale in (Path(tmp) / "data").glob("sentence_vectors.sqlite*"):
                    stale.unlink()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            result = kura(["ask", question], env)
            seconds.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU time of the ask process: what the wall time would be on an idle machine, minus I/O waits.
            cpu_seconds.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if result.returncode != 0:
                sys.exit(f"ask failed: {result.stderr.strip()}")
        traced = kura(["ask", QUESTIONS[0]], env, python_flags=("-X", "importtime"))
    top, import_ms, modules = slowest_imports(traced.stderr)
    # OpenVINO's conversion tools show as their telemetry sender (the tools' own name is listed when blocked too).
    heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers", "openai", "openvino_telemetry")
                   if m in modules)
    for name, ms in top:
        print(f"import {name}: {ms:.0f} ms")
    result = {
        "runs": args.runs,
        # kept: later runs reuse the sentence vectors earlier asks stored in the data dir (chat/sentence_vectors.py)
        "sentence_vectors": "fresh each run" if args.fresh_sentences else "kept",
        "p50_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "min_s": round(min(seconds), 3),
        "cpu_p50_s": round(statistics.median(cpu_seconds), 3),
        "import_ms": round(import_ms),
        "heavy_imports": heavy,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
