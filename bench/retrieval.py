"""Hybrid retrieval latency at scale in the embedded store.

Builds a synthetic corpus of N chunks (Zipf-distributed vocabulary of 50k
terms, ~120 terms per chunk, random unit 384-dim vectors: latency does not
depend on what the vectors mean), indexes it in Qdrant Edge exactly as Kura
does (dense + BM25 sparse with IDF, principals payload index), then times
hybrid queries with a permission filter. Ends with one JSON line.

    python bench/retrieval.py [--n 100000] [--queries 500]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.store import HybridQuery, SparseVector  # noqa: E402
from core.store_edge import EdgeStore  # noqa: E402
from core.types import Chunk  # noqa: E402
from retrieval.bm25 import BM25Encoder  # noqa: E402

DIM = 384
VOCAB = 50_000
TERMS_PER_CHUNK = 120


def zipf_terms(rng: np.random.Generator, n: int) -> np.ndarray:
    """Term ranks with a Zipf-like (s ~ 1.1) distribution, capped to the vocabulary."""
    return np.minimum(rng.zipf(1.1, size=n), VOCAB) - 1


def synthetic_chunks(n: int, rng: np.random.Generator):
    groups = ["public"] * 18 + ["group:finance", "group:hr"]  # ~10% restricted
    words = [f"w{i}" for i in range(VOCAB)]
    for i in range(n):
        terms = [words[t] for t in zipf_terms(rng, TERMS_PER_CHUNK)]
        text = " ".join(terms)
        principal = groups[i % len(groups)]
        yield Chunk(f"bench:{i // 5}", i % 5, text, text, (), TERMS_PER_CHUNK, "tokens", (principal,), f"doc {i // 5}", "", "bench"), terms


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of chunks")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: a temp dir, removed after)")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    tmp = tempfile.TemporaryDirectory(prefix="kura-bench-")
    store = EdgeStore((args.dir or Path(tmp.name)) / "idx")
    store.ensure_collection(DIM)
    encoder = BM25Encoder(avg_len=TERMS_PER_CHUNK)

    started = time.perf_counter()
    pending: list[tuple[Chunk, list[str]]] = []
    for item in synthetic_chunks(args.n, rng):
        pending.append(item)
        if len(pending) == args.batch:
            _write(store, encoder, pending, rng)
            pending = []
    if pending:
        _write(store, encoder, pending, rng)
    written = time.perf_counter() - started
    store.optimize()
    store.flush()
    build_s = time.perf_counter() - started
    print(f"built {args.n} chunks in {build_s:.1f}s (writes {written:.1f}s, HNSW/segment optimise {build_s - written:.1f}s)")

    latencies = []
    words = [f"w{i}" for i in range(VOCAB)]
    for q in range(args.queries + 20):
        terms = [words[min(t + 20, VOCAB - 1)] for t in zipf_terms(rng, 6)]  # real queries skip the commonest terms
        vec = rng.standard_normal(DIM).astype(np.float32)
        vec /= np.linalg.norm(vec)
        query = HybridQuery(
            dense=vec,
            sparse=encoder.encode_query(" ".join(terms)),
            principals=("public", "user:someone@example.com"),
            limit=8,
            prefetch_limit=50,
        )
        t0 = time.perf_counter()
        hits = store.query(query)
        if q >= 20:  # the first queries warm caches
            latencies.append((time.perf_counter() - t0) * 1000)
        assert all("public" in h.chunk.principals for h in hits)
    p50, p95 = np.percentile(latencies, [50, 95])
    print(f"hybrid query (dense + BM25, RRF, principal filter): p50 {p50:.2f} ms, p95 {p95:.2f} ms over {args.queries} queries")
    print(f"peak resident memory {rss_mb():.0f} MB")
    store.close()
    tmp.cleanup()
    print(json.dumps({"n": args.n, "build_s": round(build_s, 1), "p50_ms": round(p50, 3), "p95_ms": round(p95, 3), "rss_mb": round(rss_mb())}))


def _write(store: EdgeStore, encoder: BM25Encoder, items, rng: np.random.Generator) -> None:
    dense = rng.standard_normal((len(items), DIM)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    sparse: list[SparseVector] = [encoder.encode_terms(terms) for _, terms in items]
    store.upsert([c for c, _ in items], dense, sparse)


if __name__ == "__main__":
    main()
