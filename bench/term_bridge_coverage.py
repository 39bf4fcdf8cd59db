"""How many common business words the offline term bridge translates to the right word, per table set.

Reads ``bench/data/bridge_business_terms.tsv`` (English -> Japanese and Japanese -> English words with the
translations counted as right, written before the JMdict table's results were seen), bridges each word
alone with ``TermBridge.translations`` and counts a hit when one right translation is among the bridged
terms. Also times loading the tables (the cold cost a first cross-language question pays). Ends with one
JSON line per table set (with the load average, since this machine is shared).

    python bench/term_bridge_coverage.py [--misses]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.term_bridge import DEFAULT_TABLE, DEFAULT_TABLES, TermBridge  # noqa: E402
from retrieval.tokenize import has_japanese  # noqa: E402

TERMS = Path(__file__).resolve().parent / "data" / "bridge_business_terms.tsv"


def read_terms(path: Path = TERMS) -> list[tuple[str, set[str]]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word, right = line.split("\t")
            rows.append((word, {r.strip().lower() for r in right.split("|")}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the words not bridged to a right translation")
    args = parser.parse_args()
    terms = read_terms()
    for name, tables in (("sudachi", (DEFAULT_TABLE,)), ("sudachi+jmdict", DEFAULT_TABLES)):
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        bridge = TermBridge.load(tables)
        load_ms = (time.perf_counter() - started) * 1000
        hits = {"en->ja": [0, 0], "ja->en": [0, 0]}
        for word, right in terms:
            direction = "ja->en" if has_japanese(word) else "en->ja"
            found = {t.lower() for t in bridge.translations(word)}
            hit = bool(found & right)
            hits[direction][0] += hit
            hits[direction][1] += 1
            if args.misses and not hit:
                print(f"  miss [{name}] {word}: {sorted(found)[:8]}", file=sys.stderr)
        print(json.dumps({
            "bench": "term_bridge_coverage", "tables": name,
            **{f"{d}_hits": f"{h}/{n}" for d, (h, n) in hits.items()},
            "all_hits": f"{sum(h for h, _ in hits.values())}/{len(terms)}",
            "load_ms": round(load_ms, 1), "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }, ensure_ascii=False))


if __name__ == "__main__":
    main()
