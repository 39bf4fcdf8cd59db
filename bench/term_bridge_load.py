"""What loading the offline term tables costs a cold process: SudachiDict's table alone vs with JMdict's.

Each round starts a fresh Python process per table set (taking turns, so load on a shared machine hits
both alike), which imports ``retrieval.term_bridge`` and times ``TermBridge.load`` of the tables: the
wait a first cross-language question adds to a cold ``kura ask``. Ends with one JSON line (with the load
average, since this machine is shared).

    python bench/term_bridge_load.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys, time
from retrieval import term_bridge
tables = term_bridge.DEFAULT_TABLES if sys.argv[1] == "both" else (term_bridge.DEFAULT_TABLE,)
started = time.perf_counter()
term_bridge.TermBridge.load(tables)
print((time.perf_counter() - started) * 1000)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {"sudachi": [], "both": []}
    for _ in range(args.rounds):
        for name in times:
            probe = [sys.executable, "-c", PROBE, name]
            out = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, check=True)
            times[name].append(float(out.stdout.strip()))
    median = {name: round(statistics.median(values), 1) for name, values in times.items()}
    print(json.dumps({
        "bench": "term_bridge_load", "rounds": args.rounds,
        "load_ms_sudachi": median["sudachi"], "load_ms_sudachi_jmdict": median["both"],
        "added_ms": round(median["both"] - median["sudachi"], 1),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
