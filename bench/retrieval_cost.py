"""Where a query's CPU goes on an index built by ``bench/retrieval.py --keep``: one JSON line per run.

Opens the index once, warms it with 100 hybrid queries, then for each part (dense only, BM25 only, hybrid)
and each permission filter (none, 5%, 50%, 100% of the corpus) runs ``--queries`` queries of the
benchmark's shape and reports user and system CPU per query (``getrusage``: all engine threads) and the
wall-clock p50/p95. The query shape (hnsw_ef, oversampling, rescoring, prefetch limits per part) can be
changed from the command line; a changed shape is compared with the layout's defaults on the same queries:
dense recall@10 against exact search, and agreement of the hybrid top-10 with the default shape's.

    python bench/retrieval_cost.py --dir DIR/nN [--queries 300] [--ef 128] [--over 2.0] [--rescore 1]
        [--dense-prefetch 50] [--sparse-prefetch 50] [--parts dense,sparse,hybrid] [--filters none,5%,50%,100%]
        [--bm25-terms bench|clean] [--search-threads N]

``--bm25-terms clean`` draws query terms without the benchmark's catch-all term (its Zipf sampler folds the
tail beyond the 50k vocabulary into one term that every chunk holds): see ``query_terms``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qdrant_edge as qe  # noqa: E402

import bench.retrieval as bench  # noqa: E402  (the corpus and query generators)
from core.index_layout import IndexLayout  # noqa: E402
from core.store_edge import EdgeStore  # noqa: E402

FILTERS = {"none": None, "5%": 1, "50%": 10, "100%": 20}


def query_terms(rng: np.random.Generator, clean: bool) -> list[str]:
    """The benchmark's six query terms; ``clean`` redraws any term the sampler clipped to the vocabulary's end."""
    terms = bench.zipf_terms(rng, 6, skip=20)
    if clean:
        last = f"w{bench.VOCAB - 1}"
        while last in terms:
            terms = [t for t in terms if t != last] + bench.zipf_terms(rng, 6 - len([t for t in terms if t != last]), skip=20)
    return terms


def principal_filter(groups: int | None):
    if groups is None:
        return None
    return qe.Filter(must=[qe.FieldCondition(key="principals", match=qe.MatchAny(any=[f"group:g{k}" for k in range(groups)]))])


def search_params(ef: int, over: float, rescore: bool):
    return qe.SearchParams(hnsw_ef=ef, quantization=qe.QuantizationSearchParams(rescore=rescore, oversampling=over))


def request(part: str, vec, sparse, flt, params, dense_prefetch: int, sparse_prefetch: int, limit: int = 8,
            filter_at: str = "both"):
    dense_q = qe.Query.Nearest(vec.tolist(), using="dense")
    sparse_q = qe.Query.Nearest(qe.SparseVector(indices=list(sparse.indices), values=list(sparse.values)), using="bm25")
    inner = flt if filter_at in ("both", "prefetch") else None
    outer = flt if filter_at in ("both", "root") else None
    if part == "dense":
        return qe.QueryRequest(limit=limit, query=dense_q, filter=flt, params=params, with_payload=True)
    if part == "sparse":
        return qe.QueryRequest(limit=limit, query=sparse_q, filter=flt, params=params, with_payload=True)
    return qe.QueryRequest(
        limit=limit,
        prefetches=[qe.Prefetch(limit=dense_prefetch, query=dense_q, filter=inner, params=params),
                    qe.Prefetch(limit=sparse_prefetch, query=sparse_q, filter=inner, params=params)],
        query=qe.Fusion.Rrf(k=60, weights=[1.0, 1.0]),
        filter=outer,
        with_payload=True,
    )


def timed(shard, requests: list) -> tuple[dict, list[list[int]]]:
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    lat, ids = [], []
    for req in requests:
        t = time.perf_counter()
        points = shard.query(req)
        lat.append((time.perf_counter() - t) * 1000)
        ids.append([int(p.id) if not isinstance(p.id, str) else p.id for p in points])
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    n = len(requests)
    p50, p95 = np.percentile(lat, [50, 95])
    return {
        "user_ms": round((r1.ru_utime - r0.ru_utime) * 1000 / n, 2),
        "sys_ms": round((r1.ru_stime - r0.ru_stime) * 1000 / n, 2),
        "majflt": round((r1.ru_majflt - r0.ru_majflt) / n, 2),
        "minflt": round((r1.ru_minflt - r0.ru_minflt) / n, 1),
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
    }, ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ef", type=int, default=None)
    ap.add_argument("--over", type=float, default=None)
    ap.add_argument("--rescore", type=int, default=1)
    ap.add_argument("--dense-prefetch", type=int, default=50)
    ap.add_argument("--sparse-prefetch", type=int, default=50)
    ap.add_argument("--parts", default="dense,sparse,hybrid")
    ap.add_argument("--filters", default="none,5%,50%,100%")
    ap.add_argument("--bm25-terms", choices=["bench", "clean"], default="bench")
    ap.add_argument("--search-threads", type=int, default=None, help="max_search_threads given at load")
    ap.add_argument("--filter-at", choices=["both", "prefetch", "root"], default="both",
                    help="where a hybrid query carries the permission filter")
    ap.add_argument("--no-compare", action="store_true", help="skip the comparison with the default shape")
    a = ap.parse_args()
    where = Path(a.dir)
    layout = IndexLayout()
    ef = a.ef or layout.hnsw_ef
    over = a.over or layout.oversampling
    store = EdgeStore(where / "idx", layout=layout)
    t0 = time.perf_counter()
    if a.search_threads is not None:
        store._read_ahead()
        cfg = layout.edge_config("dense", "bm25", bench.DIM)
        store._shard = qe.EdgeShard.load(str(where / "idx" / "shard"), qe.EdgeConfig(
            vectors=cfg.vectors, sparse_vectors=cfg.sparse_vectors, max_search_threads=a.search_threads))
    store.count()
    shard = store._shard
    out: dict = {"dir": str(where), "open_s": round(time.perf_counter() - t0, 2),
                 "shape": {"ef": ef, "over": over, "rescore": bool(a.rescore), "dense_prefetch": a.dense_prefetch,
                           "sparse_prefetch": a.sparse_prefetch, "bm25_terms": a.bm25_terms,
                           "search_threads": a.search_threads, "filter_at": a.filter_at},
                 "load_before": os.getloadavg()[0]}
    encoder = bench.BM25Encoder(avg_len=bench.TERMS_PER_CHUNK)
    cents = bench.centroids(a.seed)
    rng = np.random.default_rng([a.seed, 7])
    parts = a.parts.split(",")
    filters = a.filters.split(",")
    total = 100 + a.queries * len(parts) * len(filters)
    vecs = bench.query_vectors(total, cents, a.seed + 1)
    sparse = [encoder.encode_query(" ".join(query_terms(rng, a.bm25_terms == "clean"))) for _ in range(total)]
    out["bm25_distinct_terms"] = round(float(np.mean([len(s.indices) for s in sparse])), 2)
    params = search_params(ef, over, bool(a.rescore))
    default = search_params(layout.hnsw_ef, layout.oversampling, True)
    warm = [request("hybrid", vecs[i], sparse[i], principal_filter(10), params, a.dense_prefetch, a.sparse_prefetch)
            for i in range(100)]
    timed(shard, warm)
    at = 100
    changed = (ef, over, bool(a.rescore), a.dense_prefetch, a.sparse_prefetch, a.filter_at) != (
        layout.hnsw_ef, layout.oversampling, True, 50, 50, "both")
    for part in parts:
        for label in filters:
            flt = principal_filter(FILTERS[label])
            idx = range(at, at + a.queries)
            at += a.queries
            reqs = [request(part, vecs[i], sparse[i], flt, params, a.dense_prefetch, a.sparse_prefetch,
                            filter_at=a.filter_at) for i in idx]
            stats, got = timed(shard, reqs)
            if changed and not a.no_compare and part == "hybrid":
                base = [request(part, vecs[i], sparse[i], flt, default, 50, 50, limit=10) for i in idx]
                mine = [request(part, vecs[i], sparse[i], flt, params, a.dense_prefetch, a.sparse_prefetch, limit=10,
                                filter_at=a.filter_at) for i in idx]
                _, base_ids = timed(shard, base)
                _, mine_ids = timed(shard, mine)
                stats["top10_agreement"] = round(float(np.mean([len(set(x) & set(y)) / max(1, len(y))
                                                                 for x, y in zip(mine_ids, base_ids)])), 4)
            out[f"{part}_{label}"] = stats
    # Dense recall@10 against exact search (ground truth written by the build), as the benchmark measures it.
    truth = json.loads((where / "truth.json").read_text())["ids"]
    found = 0
    for vec, ids in zip(bench.query_vectors(bench.RECALL_QUERIES, cents, a.seed), truth):
        points = shard.query(qe.QueryRequest(limit=10, query=qe.Query.Nearest(vec.tolist(), using="dense"),
                                             filter=principal_filter(20), params=params, with_payload=True))
        found += len({int(p.payload["document_id"].split(":")[1]) for p in points} & set(ids))
    out["dense_recall_at_10"] = round(found / (10 * len(truth)), 4)
    out.update(bench.rss_split_mb())
    out["load_after"] = os.getloadavg()[0]
    store.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
