"""What one term count costs: the lookup behind respelling a typing slip and the unknown-name rule.

    python bench/retrieval.py --n 1000000 --keep --dir DIR        # builds DIR/n1000000/idx
    python bench/term_count.py DIR/n1000000 [--terms 300]

Both ask the index how many chunks the asker may read hold one BM25 term (a sparse query on that term, limit 50,
with the permission filter: ``HybridRetriever._chunks_with``, ``StoreTermStats``). The cost depends on the term's
posting list, so it is timed for terms in no chunk (a slip as typed), rare terms (a name) and common ones (a
dictionary word a slip is corrected to), for users reading 5%, 50% and 100% of the index. One JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/retrieval.py must not shadow the retrieval package

from bench.retrieval import GROUPS, MIXES, VOCAB, open_bench_store  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store import HybridQuery  # noqa: E402
from retrieval.bm25 import BM25Encoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("where", type=Path, help="a size's folder of bench/retrieval.py --keep (holding idx/)")
    parser.add_argument("--terms", type=int, default=300, help="terms timed per kind and permission mix")
    args = parser.parse_args()
    if not (args.where / "idx").is_dir() and not Settings().qdrant_url:
        raise SystemExit(f"no index at {args.where / 'idx'}: build one with bench/retrieval.py --keep")
    store = open_bench_store(Settings(), args.where)
    encoder = BM25Encoder()
    result: dict = {"chunks": store.count()}
    # bench/retrieval.py draws chunk terms w0..w{VOCAB-1} Zipf-like: w0 is in most chunks, w40000 in few.
    kinds = {
        "absent": [f"zz{i}" for i in range(args.terms)],
        "rare": [f"w{VOCAB - 10_000 + i}" for i in range(args.terms)],
        "common": [f"w{i}" for i in range(args.terms)],
    }
    for label, groups in MIXES.items():
        principals = tuple(f"group:g{k % GROUPS}" for k in range(groups))
        for kind, terms in kinds.items():
            ms, found = [], []
            for term in terms:
                t0 = time.perf_counter()
                hits = store.query(HybridQuery(dense=None, sparse=encoder.encode_terms([term]), principals=principals,
                                               limit=50, weights=(0.0, 1.0)))
                ms.append((time.perf_counter() - t0) * 1000)
                found.append(len(hits))
            result[f"{label}_{kind}_p50_ms"] = round(float(np.percentile(ms, 50)), 3)
            result[f"{label}_{kind}_p95_ms"] = round(float(np.percentile(ms, 95)), 3)
            result[f"{label}_{kind}_chunks_median"] = float(np.median(found))
    store.close()
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
