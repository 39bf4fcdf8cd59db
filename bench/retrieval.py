"""Hybrid retrieval at scale: build cost, memory, reopen and latency of the index Kura builds.

For each size N it builds a synthetic corpus in a child process (so that process's peak memory is the
build's), then reopens it in a fresh child (so its memory is what a serving process holds) and measures:

* build after embedding: writes and optimize, separately, and the CPU time inside them (`build_cpu_s`); peak resident memory (and its anonymous part:
  mapped index files are reclaimable page cache); index size on disk;
* reopen time, the first query's latency and the first 100 queries' p95 (cold caches);
* hybrid (dense + BM25, RRF) with a permission filter, p50/p95 over ``--queries`` queries for users who
  may read 5%, 50% and 100% of the corpus;
* dense recall@10 of the index against exact search (ground truth computed while building);
* steady resident memory of the serving process after the queries, split into anonymous and file-backed
  (mapped index files) and by index file; CPU time per query, which does not grow with the machine's load.

Vectors are synthetic but clustered like real embeddings (unit vectors around 2,000 topic centroids:
uniformly random 384-dim vectors are a worst case no text embedder produces); BM25 terms are
Zipf-distributed over a 50k vocabulary, ~120 per chunk. Indexing goes through Kura's own store and
BM25 encoder with the layout in core/index_layout.py (``KURA_INDEX_*`` settings). With KURA_QDRANT_URL
set the same benchmark runs against that server. One JSON line per size:

    python bench/retrieval.py [--n 100000,300000,1000000] [--queries 1000] [--dir DIR] [--cold]

Serving an index built earlier (kept with --keep): ``--phase serve --n N --dir DIR/nN``.
``--memory-limit-mb M`` serves inside a memory cgroup of M MB (root; ``bench/memory_cgroup.py``): the kernel then
keeps the mapped index files within the budget, and the line adds the cgroup's peak charge.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import memory_cgroup  # noqa: E402
from core.index_layout import IndexLayout  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store import HybridQuery  # noqa: E402
from core.types import Chunk  # noqa: E402
from retrieval.bm25 import BM25Encoder  # noqa: E402

DIM = 384
VOCAB = 50_000
TERMS_PER_CHUNK = 120
CENTROIDS = 2_000
NOISE = 0.08  # per-dimension spread around a centroid: neighbours at cosine ~0.3-0.6, like MiniLM's
GROUPS = 20  # each chunk is readable by one of 20 groups: a user in k groups reads k * 5% of the corpus
MIXES = {"5%": 1, "50%": 10, "100%": 20}
BATCH = 2_000
RECALL_QUERIES = 200


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def centroids(seed: int) -> np.ndarray:
    return _unit(np.random.default_rng(seed).standard_normal((CENTROIDS, DIM)))


def batch_vectors(start: int, size: int, cents: np.ndarray, seed: int) -> np.ndarray:
    """The dense vectors of chunks start..start+size, regenerated identically from the seed."""
    rng = np.random.default_rng([seed, start])
    topics = rng.integers(0, CENTROIDS, size)
    return _unit(cents[topics] + NOISE * rng.standard_normal((size, DIM)).astype(np.float32))


def query_vectors(n: int, cents: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 999_999_999])
    return _unit(cents[rng.integers(0, CENTROIDS, n)] + NOISE * rng.standard_normal((n, DIM)).astype(np.float32))


def zipf_terms(rng: np.random.Generator, n: int, skip: int = 0) -> list[str]:
    ranks = np.minimum(rng.zipf(1.1, size=n) + skip, VOCAB) - 1
    return [f"w{r}" for r in ranks]


def open_bench_store(settings: Settings, where: Path):
    """Kura's store with Kura's layout: a directory for the embedded engine, or a collection on the server."""
    layout = IndexLayout.from_settings(settings)
    if settings.qdrant_url:
        from core.store_server import ServerStore

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerStore(settings.qdrant_url, api_key=key, collection=f"kura_bench_{where.name}", layout=layout)
    from core.store_edge import EdgeStore

    return EdgeStore(where / "idx", layout=layout)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def rss_split_mb() -> dict:
    """Resident memory split into anonymous (the process cannot give it back) and file-backed (mmap'd index
    files: page cache the kernel reclaims under pressure and re-reads on the next touch)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "RssShmem"):
            fields[key] = int(value.split()[0]) / 1024
    return {"serve_rss_anon_mb": round(fields["RssAnon"]), "serve_rss_file_mb": round(fields["RssFile"] + fields["RssShmem"])}


class AnonPeak:
    """The highest anonymous resident memory of this process, sampled every 0.2 s on a thread (VmHWM counts
    mapped index files too, which the kernel can reclaim; this is the part it cannot)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_split_mb()["serve_rss_anon_mb"])
            if self._stop.wait(0.2):
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def rss_by_file_mb(top: int = 8) -> dict[str, int]:
    """Resident MB per kind of mapped index file (segment ids folded together), largest first."""
    totals: dict[str, float] = {}
    name = "[anon]"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and ":" in head[3]:  # a mapping's header line
            path = head[5] if len(head) == 6 else "[anon]"
            parts = path.split("/")
            name = "/".join(parts[parts.index("segments") + 2:]) if "segments" in parts else (
                "[anon]" if not path.startswith("/") else "[lib/other file]")
        elif line.startswith("Rss:"):
            totals[name] = totals.get(name, 0.0) + int(line.split()[1]) / 1024
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return {k: round(v) for k, v in ranked}


def evict_page_cache(path: Path) -> None:
    """Drop this index's files from the kernel's page cache (only theirs: other processes' caches stay), so
    the reopen that follows reads from disk as after a reboot."""
    for f in path.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


# --- phase 1: build (child process) ----------------------------------------------------------
def build(n: int, where: Path, seed: int) -> dict:
    settings = Settings()
    anon_peak = AnonPeak()
    store = open_bench_store(settings, where)
    store.ensure_collection(DIM)
    encoder = BM25Encoder(avg_len=TERMS_PER_CHUNK)
    cents = centroids(seed)
    queries = query_vectors(RECALL_QUERIES, cents, seed)
    # Exact top-10 for the recall queries, kept as a running merge over the batches.
    best_scores = np.full((RECALL_QUERIES, 10), -2.0, dtype=np.float32)
    best_ids = np.zeros((RECALL_QUERIES, 10), dtype=np.int64)
    rng = np.random.default_rng(seed)
    written = 0.0
    store_cpu = 0.0  # CPU of all threads inside the store's writes and optimize: unlike wall time, load does not grow it
    wal_peak = 0.0
    wal_dir = where / "idx" / "shard" / "wal"
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        dense = batch_vectors(start, size, cents, seed)
        sims = queries @ dense.T
        all_scores = np.concatenate([best_scores, sims], axis=1)
        all_ids = np.concatenate([best_ids, np.broadcast_to(np.arange(start, start + size), (RECALL_QUERIES, size))], axis=1)
        top = np.argsort(-all_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
        chunks, sparse = [], []
        for i in range(start, start + size):
            terms = zipf_terms(rng, TERMS_PER_CHUNK)
            text = " ".join(terms)
            group = f"group:g{i % GROUPS}"
            chunks.append(Chunk(f"bench:{i}", 0, text, text, (), TERMS_PER_CHUNK, "tokens", (group,), f"doc {i}", "", "bench"))
            sparse.append(encoder.encode_terms(terms))
        t0, c0 = time.perf_counter(), time.process_time()
        store.upsert(chunks, dense, sparse)
        written += time.perf_counter() - t0
        store_cpu += time.process_time() - c0
        if wal_dir.exists():
            wal_peak = max(wal_peak, dir_mb(wal_dir))
    batched = getattr(store, "optimize_seconds", 0.0)  # the embedded store optimizes every 200k points written
    written -= batched
    t0, c0 = time.perf_counter(), time.process_time()
    store.optimize()
    store.flush()
    optimize_s = batched + time.perf_counter() - t0
    store_cpu += time.process_time() - c0
    store.close()
    (where / "truth.json").write_text(json.dumps({"ids": best_ids.tolist()}))
    _, peak = rss_mb()
    out = {"writes_s": round(written, 1), "optimize_s": round(optimize_s, 1), "build_peak_mb": round(peak),
           "build_peak_anon_mb": round(anon_peak.stop()), "build_cpu_s": round(store_cpu, 1)}
    if not settings.qdrant_url:
        out["disk_mb"] = round(dir_mb(where / "idx"))
        out["wal_peak_mb"] = round(wal_peak)
    return out


# --- phase 2: serve (a fresh child process) --------------------------------------------------------
def serve(n: int, where: Path, seed: int, queries: int, cold: bool = False, memory_limit_mb: int = 0) -> dict:
    settings = Settings()
    limit = memory_cgroup.MemoryLimit(memory_limit_mb, name=_cgroup_name()) if memory_limit_mb else None
    if cold and not settings.qdrant_url:
        evict_page_cache(where / "idx")
    t0 = time.perf_counter()
    store = open_bench_store(settings, where)
    store.count()  # opens the shard
    reopen_s = time.perf_counter() - t0
    encoder = BM25Encoder(avg_len=TERMS_PER_CHUNK)
    cents = centroids(seed)
    rng = np.random.default_rng([seed, 7])
    total = 100 + queries * len(MIXES)
    vecs = query_vectors(total, cents, seed + 1)

    def hybrid(i: int, groups: int) -> float:
        principals = tuple(f"group:g{(i + k) % GROUPS}" for k in range(groups))
        q = HybridQuery(
            dense=vecs[i],
            sparse=encoder.encode_query(" ".join(zipf_terms(rng, 6, skip=20))),  # real queries skip the commonest terms
            principals=principals,
            limit=8,
            prefetch_limit=50,
        )
        t = time.perf_counter()
        hits = store.query(q)
        elapsed = (time.perf_counter() - t) * 1000
        if any(not set(h.chunk.principals) & set(principals) for h in hits):
            raise AssertionError("a hit outside the user's principals")
        return elapsed

    first100 = [hybrid(i, MIXES["50%"]) for i in range(100)]
    result = {
        "page_cache": "cold" if cold else "as found",
        "reopen_s": round(reopen_s, 2),
        "first_query_ms": round(first100[0], 2),
        "first_to_query_s": round(reopen_s + first100[0] / 1000, 2),
        "first100_p95_ms": round(float(np.percentile(first100, 95)), 2),
    }
    at = 100
    for label, groups in MIXES.items():
        # CPU time of the whole process (the engine's search threads included) per query: unlike wall-clock
        # latency it does not grow when other processes share the cores.
        cpu0 = time.process_time()
        lat = [hybrid(i, groups) for i in range(at, at + queries)]
        cpu_ms = (time.process_time() - cpu0) * 1000 / queries
        at += queries
        p50, p95 = np.percentile(lat, [50, 95])
        result[f"hybrid_{label}_p50_ms"] = round(float(p50), 2)
        result[f"hybrid_{label}_p95_ms"] = round(float(p95), 2)
        result[f"hybrid_{label}_cpu_ms"] = round(cpu_ms, 2)
    truth = json.loads((where / "truth.json").read_text())["ids"]
    everyone = tuple(f"group:g{k}" for k in range(GROUPS))
    recall_q = query_vectors(RECALL_QUERIES, cents, seed)
    found = 0
    for vec, ids in zip(recall_q, truth):
        q = HybridQuery(dense=vec, sparse=None, principals=everyone, limit=10)
        got = {int(h.chunk.document_id.split(":")[1]) for h in store.query(q)}
        found += len(got & set(ids))
    result["dense_recall_at_10"] = round(found / (10 * len(truth)), 4)
    steady, peak = rss_mb()
    result["serve_rss_mb"] = round(steady)
    result["serve_peak_mb"] = round(peak)
    if limit is not None:  # what the cgroup charged: this process's memory and the page cache it touched
        result["serve_memory_limit_mb"] = limit.limit_mb
        result["serve_cgroup_now_mb"] = round(limit.usage_mb())
        result["serve_cgroup_peak_mb"] = round(limit.peak_mb() or 0)
    result.update(rss_split_mb())
    result["rss_by_file_mb"] = rss_by_file_mb()
    store.close()
    segments = where / "idx" / "shard" / "segments"
    if segments.is_dir():  # indexed segments: each one is searched on its own (the engine spreads them over threads)
        result["segments"] = sum(1 for d in segments.iterdir() if (d / "vector_index-dense").is_dir())
    return result


def run_size(n: int, args: argparse.Namespace) -> dict:
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="kura-bench-"))
    where = base / f"n{n}"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    common = [sys.executable, __file__, "--seed", str(args.seed), "--queries", str(args.queries)]
    try:
        built = _child(common + ["--phase", "build", "--n", str(n), "--dir", str(where)])
        served = _child(common + ["--phase", "serve", "--n", str(n), "--dir", str(where)] + (["--cold"] if args.cold else [])
                        + (["--memory-limit-mb", str(args.memory_limit_mb)] if args.memory_limit_mb else []))
    finally:
        memory_cgroup.remove(_cgroup_name())
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)
    layout = IndexLayout.from_settings(Settings())
    return {
        "n": n,
        "backend": "server" if Settings().qdrant_url else "edge",
        **built,
        "build_s": round(built["writes_s"] + built["optimize_s"], 1),
        **served,
        "layout": layout.__dict__,
        "load_avg": round(os.getloadavg()[0], 2),
    }


def _cgroup_name() -> str:
    """The serving child's memory cgroup, named after the parent so the parent can remove it."""
    parent = os.getppid() if os.environ.get("KURA_BENCH_CHILD") else os.getpid()
    return f"kura-bench-serve-{parent}"


def _child(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "KURA_BENCH_CHILD": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", default="100000", help="comma-separated corpus sizes, e.g. 100000,300000,1000000")
    parser.add_argument("--queries", type=int, default=1000, help="timed queries per permission mix")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", default=None, help="where to build (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the built index")
    parser.add_argument("--cold", action="store_true", help="evict the index from the page cache before reopening")
    parser.add_argument("--memory-limit-mb", type=int, default=0,
                        help="serve inside a memory cgroup of this size (needs root): the serving budget, enforced")
    parser.add_argument("--phase", choices=["build", "serve"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "build":
        print(json.dumps(build(int(args.n), Path(args.dir), args.seed)))
    elif args.phase == "serve":
        print(json.dumps(serve(int(args.n), Path(args.dir), args.seed, args.queries, args.cold, args.memory_limit_mb)))
    else:
        for n in (int(x) for x in args.n.split(",")):
            print(json.dumps(run_size(n, args)), flush=True)


if __name__ == "__main__":
    main()
