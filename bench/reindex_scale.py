"""`kura reindex --full` at scale while the old generation serves: memory of both processes, query latency, cost.

    python bench/reindex_scale.py --n 100000 [--dir DIR] [--qps 20] [--settle-s 60] [--keep]
                                  [--serve-limit-mb 2048] [--reindex-limit-mb 6144]

``--serve-limit-mb`` / ``--reindex-limit-mb`` run the serving child / each re-index child inside a memory cgroup
of that size (root; ``bench/memory_cgroup.py``): the kernel then reclaims mapped index pages instead of letting
resident memory grow, and a child whose own memory does not fit is killed, so "both generations and the server
fit in 8 GB" is measured, not argued. Each child reports its cgroup's peak charge.

What runs, in separate processes (this one only generates the corpus, samples memory and times):

1. **Corpus** (this process): ``--n`` chunks' worth of Markdown documents with front matter, in one folder, in
   the sample connector's format (``ingest/sample_corpus/README.md``): ~20 chunks per document, English words
   from the sample corpus drawn Zipf-like (so the BM25 tokenizer and the chunker see real words, fast), each
   document readable by one of 20 groups (``group:g<k>``), so a user in k groups reads k x 5% of the corpus.
2. **Generation 1**: a child runs ``ReindexJob.run(full=True)`` - what ``kura reindex --full`` runs - built by
   ``KuraApp`` as the CLI builds it (``app.generations()``, ``app.pipeline``, the same state file, the feedback
   gate), with one difference: its source is the real ``SampleConnector`` pointed at the generated folder
   instead of the configured sources (the files connector would make every chunk public: no permission mix).
3. **Serving**: a child opens the index as the web app and ``kura ask`` do (``KuraApp.store`` /
   ``KuraApp.retriever``: CURRENT names the generation; a switch is followed on the next query) and answers
   hybrid (dense + BM25, RRF) retrievals with the permission filter continuously, ``--qps`` a second, for users
   reading 5%, 50% and 100% of the corpus in turn, logging each query's latency and the generation it hit.
4. **Generation 2**: after ``--settle-s`` seconds of serving, a second child runs the same full re-index while
   the server keeps answering; ``--settle-s`` seconds after it ends the server stops.

What is synthetic, and why: only the dense vectors. Embedding 1M chunks with the real model takes ~11 h on this
machine (24.5 chunks/s), so ``ClusteredEmbedder`` replaces the vector computation - and only it - with a
deterministic one: each text's vector is a unit vector around one of 2,000 topic centroids, picked and
perturbed by a hash of the text (the clustered shape of bench/retrieval.py: HNSW build cost depends on it;
uniformly random vectors are a worst case no text embedder produces). The configured embedder is still loaded
in both children: its tokenizer counts word-pieces for the chunker and the query's unknown-word share, and its
memory is part of every figure, as in a real run (bench/ingest_memory.py does the same). Everything else is
the real path: connector, chunker, BM25 encoder, staged writes and publication, batched optimize, the check,
the final optimize, the manifest, the atomic switch and the removal of the old generation.

Measured: each re-index child's peak RSS (``VmHWM``) and its anonymous part's peak (sampled: mapped index files
are page cache the kernel reclaims, anonymous memory is not), the serving process's RSS and anonymous memory
before, during and after the rebuild, the peak of both processes' sum (sampled together every 0.5 s), query
p50/p95 before/during/after, the rebuild's wall time split (load+chunk+BM25 = indexing minus embedding minus
store writes; embed; writes; batched optimizes; check; final optimize; close+manifest+switch; removal of the
old generation), disk used by the index folder (peak, both generations present), and whether the switch
happened, the server followed it and the old generation's directory was removed - and how much of it the
server still maps (deleted files keep their disk space until unmapped). One JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
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
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/ingest.py must not shadow the ingest package

import memory_cgroup  # noqa: E402

DIM_CENTROIDS = 2_000
NOISE = 0.08  # per-dimension spread around a centroid, as bench/retrieval.py (neighbours at cosine ~0.3-0.6)
GROUPS = 20
MIXES = {"5%": 1, "50%": 10, "100%": 20}
CHUNKS_PER_DOC = 20
# Words per chunk under the default chunking (200 tiktoken tokens, 30 overlap): calibrated on this corpus's words
# (the chunk count reached is reported; it is within a few percent of --n).
WORDS_PER_CHUNK = 150
SAMPLE_SECONDS = 0.5


# --- the corpus ------------------------------------------------------------------------------------
def vocabulary() -> list[str]:
    from ingest.connectors.sample import SAMPLE_DIR

    words = {w.lower() for p in SAMPLE_DIR.glob("*.md") for w in p.read_text(encoding="utf-8").split()
             if w.isascii() and w.isalpha()}
    return sorted(words)


def write_corpus(folder: Path, n_chunks: int, seed: int) -> dict:
    """Documents in the sample connector's format: ~CHUNKS_PER_DOC chunks each; returns what was written."""
    words = np.array(vocabulary())
    rng = np.random.default_rng(seed)
    docs = max(1, round(n_chunks / CHUNKS_PER_DOC))
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for d in range(docs):
        ranks = np.minimum(rng.zipf(1.2, size=CHUNKS_PER_DOC * WORDS_PER_CHUNK), len(words)) - 1
        body = words[ranks]
        paragraphs = []
        at = 0
        for p in range(0, 10_000):
            size = int(rng.integers(40, 120))
            if at >= len(body):
                break
            heading = f"## Part {p // 5 + 1}\n\n" if p % 5 == 0 else ""
            paragraphs.append(heading + " ".join(body[at:at + size]) + ".")
            at += size
        text = (f"---\nsource: confluence\nsource_id: \"BENCH-{d}\"\ntitle: Bench page {d}\n"
                f"principals: [\"group:g{d % GROUPS}\"]\n---\n# Bench page {d}\n\n" + "\n\n".join(paragraphs) + "\n")
        (folder / f"page-{d:07d}.md").write_text(text, encoding="utf-8")
        written += len(text)
    return {"documents": docs, "corpus_mb": round(written / 2**20)}


# --- the synthetic vectors ---------------------------------------------------------------------------
class ClusteredEmbedder:
    """The configured embedder with only its vector computation replaced (see the module docstring)."""

    def __init__(self, real, seed: int = 7) -> None:
        self.real = real
        self.dimension = real.dimension
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((DIM_CENTROIDS, self.dimension)).astype(np.float32)
        self.centroids = c / np.linalg.norm(c, axis=1, keepdims=True)

    def _vector(self, text: str) -> np.ndarray:
        h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
        rng = np.random.default_rng(h)
        v = self.centroids[h % DIM_CENTROIDS] + NOISE * rng.standard_normal(self.dimension).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts):
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_query(self, text: str):
        return self._vector(text)

    def __getattr__(self, name):
        # The tokenizer's services (word-piece counts, unknown share, sequence length, labels) are the real ones;
        # nothing that computes a vector may reach the model.
        if name.startswith(("embed", "start")):
            raise AttributeError(name)
        return getattr(self.real, name)


def make_app(data_dir: Path, seed: int):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bots.app import KuraApp
    from core.settings import Settings

    settings = Settings(data_dir=data_dir, sample_corpus=False)
    real = KuraApp(settings).embedder
    real.count_word_pieces("warm up")  # loads the tokenizer (and the model, as a real run does)
    real.embed_query("warm up")
    return KuraApp(settings, embedder=ClusteredEmbedder(real, seed))


# --- memory of this process and others -----------------------------------------------------------------
def proc_mb(pid: int | str = "self") -> dict[str, float]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return out


class AnonPeak:
    """Highest anonymous resident memory of this process, sampled on a thread."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, proc_mb().get("RssAnon", 0.0))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def dir_mb(path: Path) -> float:
    total = 0
    for f in path.rglob("*"):
        try:
            if f.is_file():
                total += f.stat().st_size
        except OSError:  # removed while walking (an optimize replaced a segment)
            pass
    return total / 2**20


# --- child: one full re-index -------------------------------------------------------------------------------
def reindex(where: Path, seed: int) -> dict:
    from core.store_edge import EdgeStore
    from ingest.connectors.sample import SampleConnector
    from ingest.generations import EdgeGenerations
    from ingest.reindex import IndexSource, ReindexJob
    from bots.regression import feedback_gate

    anon = AnonPeak()
    app = make_app(where / "data", seed)
    base_anon = proc_mb().get("RssAnon", 0.0)
    clock: dict[str, float] = {"writes": 0.0, "batched_optimize": 0.0, "final_optimize": 0.0, "check_reads": 0.0}
    marks: dict[str, float] = {}

    class TimedStore(EdgeStore):
        """The real store, its calls timed: writes (staged upserts, publications, deletes) and optimizes."""

        def upsert(self, *a, **kw):
            t, before = time.perf_counter(), self.optimize_seconds
            super().upsert(*a, **kw)
            batched = self.optimize_seconds - before
            clock["batched_optimize"] += batched
            clock["writes"] += time.perf_counter() - t - batched

        def publish(self, *a, **kw):
            t = time.perf_counter()
            super().publish(*a, **kw)
            clock["writes"] += time.perf_counter() - t

        def delete_documents(self, *a, **kw):
            t = time.perf_counter()
            super().delete_documents(*a, **kw)
            clock["writes"] += time.perf_counter() - t

        def optimize(self):
            if "index_end" in marks:  # called by the job after the check: the final one
                t = time.perf_counter()
                marks.setdefault("optimize_start", time.time())
                super().optimize()
                clock["final_optimize"] += time.perf_counter() - t
                marks["optimize_end"] = time.time()
            else:
                super().optimize()

    class TimedGenerations(EdgeGenerations):
        def open(self, name):
            return TimedStore(self.root / name, layout=self.layout)

        def switch(self, name):
            super().switch(name)
            marks["switched"] = time.time()

        def remove(self, name):
            t = time.time()
            super().remove(name)
            marks.setdefault("removed_s", 0.0)
            marks["removed_s"] += time.time() - t

    index_seconds = [0.0]

    def on_progress(stats):
        index_seconds[0] = stats.seconds
        marks["last_progress"] = time.time()

    generations = TimedGenerations(app.settings.index_dir, app.generations().layout)
    old = generations.serving()
    job = ReindexJob(generations, [IndexSource(SampleConnector(where / "corpus", batch_size=16), infer_scope=True)],
                     app.pipeline, state_file=app.settings.state_dir / "reindex-pending.json",
                     default_strategy=app.settings.chunk_strategy, min_share=app.settings.reindex_min_share,
                     on_progress=on_progress, quality_gate=feedback_gate(app))
    original_finish = job._finish

    def finish(*a, **kw):  # the indexing is over when the job moves on to its check
        marks["index_end"] = time.time()
        return original_finish(*a, **kw)

    job._finish = finish
    started = time.time()
    with app.reindex_lock():
        result = job.run(full=True)
    ended = time.time()
    stats = result.stats
    embed = stats.embed_seconds
    indexing = marks["index_end"] - started
    split = {
        "load_chunk_bm25_s": round(indexing - embed - clock["writes"] - clock["batched_optimize"], 1),
        "embed_synthetic_s": round(embed, 1),
        "writes_s": round(clock["writes"], 1),
        "batched_optimize_s": round(clock["batched_optimize"], 1),
        "check_s": round(marks.get("optimize_start", ended) - marks["index_end"], 1),
        "final_optimize_s": round(clock["final_optimize"], 1),
        "close_manifest_switch_s": round(marks.get("switched", ended) - marks.get("optimize_end", ended), 1),
        "remove_old_s": round(marks.get("removed_s", 0.0), 1),
    }
    peaks = proc_mb()
    return {
        "switched": result.switched, "problems": result.problems, "old": old, "new": result.index,
        "old_dir_removed": bool(old) and not (where / "data" / "index" / old).exists(),
        "documents": result.documents, "chunks": result.chunks, "chunks_embedded": stats.chunks_embedded,
        "wall_s": round(ended - started, 1), "split": split,
        "started_at": started, "switched_at": marks.get("switched"), "ended_at": ended,
        "peak_rss_mb": round(peaks.get("VmHWM", 0)), "peak_anon_mb": round(anon.stop()),
        "baseline_anon_mb": round(base_anon),
    }


# --- child: the serving process ----------------------------------------------------------------------------
def deleted_mapped_mb() -> float:
    """MB of this process's mappings of files that were deleted (their disk space is freed only once unmapped)."""
    total = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        if line.endswith("(deleted)"):
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            total += end - start
    return total / 2**20


def serve(where: Path, seed: int, qps: float) -> dict:
    from core.store_factory import current_index_dir

    app = make_app(where / "data", seed)
    words = vocabulary()
    rng = random.Random(seed)
    common = set(words[:50])
    rare = [w for w in words if w not in common]
    log = (where / "queries.tsv").open("w", encoding="utf-8")
    stop = where / "stop"
    mixes = list(MIXES.items())
    period = 1.0 / qps if qps > 0 else 0.0
    t0 = time.perf_counter()
    app.retriever.retrieve("warm up", principals=("group:g0",))  # opens the serving generation
    open_s = time.perf_counter() - t0
    for i in range(100):  # the first queries after an open are slower: not part of "before"
        app.retriever.retrieve(" ".join(rng.sample(rare, 5)), principals=("group:g0",))
    print(json.dumps({"ready": True, "open_s": round(open_s, 2)}), flush=True)
    i = 0
    deleted_max = 0.0
    next_at = time.perf_counter()
    while not stop.exists():
        label, groups = mixes[i % len(mixes)]
        principals = tuple(f"group:g{(i + k) % GROUPS}" for k in range(groups))
        text = " ".join(rng.sample(rare, 5))
        t = time.perf_counter()
        hits = app.retriever.retrieve(text, principals=principals, top_k=8)
        ms = (time.perf_counter() - t) * 1000
        if any(not set(h.chunk.principals) & set(principals) for h in hits):
            raise AssertionError("a hit outside the user's principals")
        name = current_index_dir(app.settings.index_dir).name if app._store_path is None else app._store_path.name
        log.write(f"{time.time():.3f}\t{ms:.3f}\t{label}\t{name}\t{len(hits)}\n")
        i += 1
        if i % 200 == 0:
            log.flush()
            deleted_max = max(deleted_max, deleted_mapped_mb())
        next_at += period
        time.sleep(max(0.0, next_at - time.perf_counter()))
    log.close()
    return {"queries": i, "deleted_mapped_max_mb": round(deleted_max),
            "deleted_mapped_end_mb": round(deleted_mapped_mb()), "retired_stores": len(app._retired),
            "serving_at_end": app._store_path.name if app._store_path else None}


# --- this process: orchestrate and sample ---------------------------------------------------------------------
class Sampler:
    """Every SAMPLE_SECONDS: RSS and anonymous memory of the tracked processes (and every 10 s the index's size)."""

    def __init__(self, index_root: Path) -> None:
        self.index_root = index_root
        self.pids: dict[str, int] = {}
        self.rows: list[tuple[float, str, float, float]] = []  # (time, label, rss, anon)
        self.sums: list[tuple[float, float, float]] = []  # (time, rss sum, anon sum) over tracked processes
        self.disk: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_disk = 0.0
        while not self._stop.wait(SAMPLE_SECONDS):
            now = time.time()
            rss = anon = 0.0
            for label, pid in list(self.pids.items()):
                m = proc_mb(pid)
                if m:
                    self.rows.append((now, label, m["VmRSS"], m["RssAnon"]))
                    rss, anon = rss + m["VmRSS"], anon + m["RssAnon"]
            self.sums.append((now, rss, anon))
            if now - last_disk >= 10 and self.index_root.is_dir():
                self.disk.append((now, dir_mb(self.index_root)))
                last_disk = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def of(self, label: str, t_from: float, t_to: float) -> list[tuple[float, float]]:
        return [(r, a) for t, lab, r, a in self.rows if lab == label and t_from <= t <= t_to]


def _child(args: list[str], limit_mb: int = 0, **kw) -> subprocess.Popen:
    limit = ["--memory-limit-mb", str(limit_mb)] if limit_mb else []
    return subprocess.Popen([sys.executable, __file__, *args, *limit], stdout=subprocess.PIPE, text=True, **kw)


def _cgroup_name(pid: int) -> str:
    return f"kura-reindex-scale-{pid}"


def _last_json(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    memory_cgroup.remove(_cgroup_name(proc.pid))  # a no-op without a limit; else the empty cgroup goes
    if proc.returncode:
        raise SystemExit(f"child {proc.args[2:]} failed with exit code {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def _mem_summary(rows: list[tuple[float, float]]) -> dict:
    if not rows:
        return {}
    rss = [r for r, _ in rows]
    anon = [a for _, a in rows]
    return {"rss_median_mb": round(float(np.median(rss))), "rss_max_mb": round(max(rss)),
            "anon_median_mb": round(float(np.median(anon))), "anon_max_mb": round(max(anon))}


def _latency(rows: list[list[str]]) -> dict:
    if not rows:
        return {}
    ms = np.array([float(r[1]) for r in rows])
    out = {"queries": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
           "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(float(ms.max()), 1)}
    for label in MIXES:
        sub = np.array([float(r[1]) for r in rows if r[2] == label])
        if len(sub):
            out[f"{label}_p50_ms"] = round(float(np.percentile(sub, 50)), 2)
    return out


def run(args: argparse.Namespace) -> dict:
    where = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="kura-reindex-scale-"))
    where.mkdir(parents=True, exist_ok=True)
    common = ["--seed", str(args.seed), "--dir", str(where)]
    t = time.time()
    corpus = where / "corpus"
    marker = where / "corpus.json"
    if marker.exists() and json.loads(marker.read_text()).get("n") == args.n:
        written = json.loads(marker.read_text())
    else:
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.rmtree(where / "data", ignore_errors=True)
        written = {"n": args.n, **write_corpus(corpus, args.n, args.seed)}
        marker.write_text(json.dumps(written))
    corpus_s = time.time() - t
    sampler = Sampler(where / "data" / "index")
    children: list[subprocess.Popen] = []
    try:
        gen1_proc = _child(["--phase", "reindex", *common], args.reindex_limit_mb)
        children.append(gen1_proc)
        sampler.pids["gen1"] = gen1_proc.pid
        gen1 = _last_json(gen1_proc)
        del sampler.pids["gen1"]
        if not gen1["switched"]:
            raise SystemExit(f"generation 1 was not switched to: {gen1['problems']}")
        disk_gen1 = dir_mb(where / "data" / "index")
        (where / "stop").unlink(missing_ok=True)
        server = _child(["--phase", "serve", "--qps", str(args.qps), *common], args.serve_limit_mb)
        children.append(server)
        sampler.pids["serve"] = server.pid
        ready = json.loads(server.stdout.readline())
        serve_from = time.time()
        time.sleep(args.settle_s)
        gen2_proc = _child(["--phase", "reindex", *common], args.reindex_limit_mb)
        children.append(gen2_proc)
        sampler.pids["gen2"] = gen2_proc.pid
        gen2 = _last_json(gen2_proc)
        del sampler.pids["gen2"]
        time.sleep(args.settle_s)
        (where / "stop").touch()
        served = _last_json(server)
        serve_to = time.time()
    finally:
        sampler.stop()
        for proc in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            memory_cgroup.remove(_cgroup_name(proc.pid))
    start, end, switched_at = gen2["started_at"], gen2["ended_at"], gen2["switched_at"] or gen2["ended_at"]
    queries = [line.split("\t") for line in (where / "queries.tsv").read_text().splitlines()]
    both = [(r, a) for t, r, a in sampler.sums if start <= t <= end]
    disk_during = [mb for t, mb in sampler.disk if start <= t <= end]
    after_queries = [q for q in queries if float(q[0]) > end]
    result = {
        "n": args.n, **{k: v for k, v in written.items() if k != "n"}, "corpus_s": round(corpus_s),
        "gen1": {k: v for k, v in gen1.items() if not k.endswith("_at")},
        "gen2": {k: v for k, v in gen2.items() if not k.endswith("_at")},
        "serve_open_s": ready["open_s"],
        "serve_before": _mem_summary(sampler.of("serve", serve_from, start)),
        "serve_during": _mem_summary(sampler.of("serve", start, end)),
        "serve_after": _mem_summary(sampler.of("serve", end + 5, serve_to)),
        # The last samples: the server closes the old generation KuraApp.retired_grace_s after the switch (bots/app.py).
        "serve_end": _mem_summary(sampler.of("serve", serve_to - 5, serve_to)),
        "both_peak_rss_mb": round(max((r for r, _ in both), default=0)),
        "both_peak_anon_mb": round(max((a for _, a in both), default=0)),
        "latency_before": _latency([q for q in queries if float(q[0]) < start]),
        "latency_during": _latency([q for q in queries if start <= float(q[0]) <= end]),
        "latency_after": _latency(after_queries),
        "server_followed_switch": bool(after_queries) and all(q[3] == gen2["new"] for q in after_queries),
        "first_query_after_switch_ms": next((round(float(q[1]), 1) for q in queries
                                             if float(q[0]) >= switched_at and q[3] == gen2["new"]), None),
        "empty_results": sum(1 for q in queries if q[4] == "0"),
        **{f"serve_{k}": v for k, v in served.items()},
        "disk_gen1_mb": round(disk_gen1), "disk_peak_during_mb": round(max(disk_during, default=0)),
        "disk_after_mb": round(dir_mb(where / "data" / "index")),
        "serve_limit_mb": args.serve_limit_mb, "reindex_limit_mb": args.reindex_limit_mb,
        "qps": args.qps, "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if not args.keep:
        shutil.rmtree(where / "data", ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="chunks to index (approximately)")
    parser.add_argument("--dir", default=None, help="where to write the corpus and the index (default: a temp dir)")
    parser.add_argument("--qps", type=float, default=20.0, help="queries a second the server answers")
    parser.add_argument("--settle-s", type=float, default=60.0, help="serving seconds before and after the rebuild")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the index (the corpus is always kept in --dir)")
    parser.add_argument("--serve-limit-mb", type=int, default=0, help="memory cgroup for the serving child (root)")
    parser.add_argument("--reindex-limit-mb", type=int, default=0, help="memory cgroup for each re-index child (root)")
    parser.add_argument("--phase", choices=["reindex", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--memory-limit-mb", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.n < 1 or args.qps < 0 or args.settle_s < 0 or args.serve_limit_mb < 0 or args.reindex_limit_mb < 0:
        raise SystemExit("--n must be >= 1; --qps, --settle-s and the limits >= 0")
    if args.phase:
        # This child's pid names its cgroup, so the parent can remove it once the child has exited.
        limit = (memory_cgroup.MemoryLimit(args.memory_limit_mb, name=_cgroup_name(os.getpid()))
                 if args.memory_limit_mb else None)
        result = reindex(Path(args.dir), args.seed) if args.phase == "reindex" else serve(Path(args.dir), args.seed, args.qps)
        if limit is not None:  # what the cgroup charged: the process's own memory and the page cache it touched
            result["cgroup_limit_mb"] = limit.limit_mb
            result["cgroup_peak_mb"] = round(limit.peak_mb() or 0)
            result["cgroup_end_mb"] = round(limit.usage_mb())
        print(json.dumps(result))
    else:
        print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
