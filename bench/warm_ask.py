"""Warm `kura ask` at 100k chunks: the whole ask in a loaded process, the query's embedding included.

The index holds --n synthetic chunks plus the sample corpus's real documents.
Synthetic chunks cost no embedding (hours for 100k on this CPU): each is a
random unit vector near one of 2,000 random centroids (neighbours at cosine
0.3-0.6, as MiniLM's are) and a text of Zipf-drawn words, readable by one of
20 groups; the asker is given every group, so the permission filter lets
all of them through (the worst case). ``--reuse DIR`` copies an index
bench/retrieval.py built (its ``idx`` folder, same kind of chunks) instead
of writing one. The sample corpus is then ingested for real, and
``KuraApp.ask`` (extractive answerer, hybrid retrieval with the permission
filter and cross-language bridging, the default embedder embedding every
question) is timed over --queries questions after a warm-up. The split per
ask: query embedding (timed again on its own), retrieval (which includes
it: ``timings_ms["retrieve"]``) and answer (``timings_ms["answer"]``).
Ends with one JSON line.

    python bench/warm_ask.py [--n 100000] [--queries 200] [--reuse /work/bench/s3/small/n100000/idx]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIM = 384
CENTROIDS = 2_000
NOISE = 0.08
GROUPS = 20
TERMS_PER_CHUNK = 120
VOCAB = 50_000
BATCH = 2_000
QUESTIONS = ["Who has to approve an expense report over 50,000 yen?", "How do I set up the VPN?",
             "When is the on-call rotation handed over?", "How do I reset my password?",
             "経費精算申請書はいつまでに提出する必要がありますか？", "What does the deployment runbook say about rollbacks?",
             "How many days can I work from abroad each year?", "リモートワーク手当はいくらですか？"]


def synthetic_index(store, n: int, seed: int) -> None:
    """Writes n synthetic chunks (vectors, BM25 terms, one group each) into an empty store."""
    from core.types import Chunk
    from retrieval.bm25 import BM25Encoder

    store.ensure_collection(DIM)
    encoder = BM25Encoder(avg_len=TERMS_PER_CHUNK)
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((CENTROIDS, DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        dense = centroids[rng.integers(0, CENTROIDS, size)] + NOISE * rng.standard_normal((size, DIM)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        chunks, sparse = [], []
        for i in range(start, start + size):
            terms = [f"w{r}" for r in np.minimum(rng.zipf(1.1, size=TERMS_PER_CHUNK), VOCAB) - 1]
            text = " ".join(terms)
            chunks.append(Chunk(f"bench:{i}", 0, text, text, (), TERMS_PER_CHUNK, "tokens", (f"group:g{i % GROUPS}",),
                                f"doc {i}", "", "bench"))
            sparse.append(encoder.encode_terms(terms))
        store.upsert(chunks, dense.astype(np.float32), sparse)
    store.optimize()
    store.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", type=Path, default=None, help="copy this synthetic index instead of writing one")
    args = parser.parse_args()

    from bots.app import KuraApp, sample_connector
    from core.settings import Settings
    from core.store_factory import current_index_dir, open_store

    with tempfile.TemporaryDirectory(prefix="kura-bench-warm-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", answerer="extractive")
        t0 = time.perf_counter()
        if args.reuse:
            shutil.copytree(args.reuse, current_index_dir(settings.index_dir))
        else:
            store = open_store(settings)
            synthetic_index(store, args.n, args.seed)
            store.close()
        build_s = time.perf_counter() - t0
        with KuraApp(settings) as kura:
            kura.ingest(sample_connector(), full_scope=False)  # real documents to answer from
            principals = kura.principals_for(None) + tuple(f"group:g{g}" for g in range(GROUPS))
            for q in QUESTIONS:  # warm-up: model, tables, caches
                kura.ask(q, principals=principals)
            total, retrieve, answer_ms, embed = [], [], [], []
            cpu0 = time.process_time()
            for i in range(args.queries):
                # A new question text each time: its embedding is never cached.
                question = QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else f" ({i})")
                t = time.perf_counter()
                answer = kura.ask(question, principals=principals)
                total.append((time.perf_counter() - t) * 1000)
                retrieve.append(answer.timings_ms.get("retrieve", float("nan")))
                answer_ms.append(answer.timings_ms.get("answer", float("nan")))
                t = time.perf_counter()
                kura.embedder.embed_query(question + " again")
                embed.append((time.perf_counter() - t) * 1000)
            cpu_ms = (time.process_time() - cpu0) * 1000 / args.queries
            chunks = kura.store.count()
    p50, p95 = np.percentile(total, [50, 95])
    print(f"{chunks} chunks (index ready in {build_s:.0f}s); last answer: {answer.text[:80]!r}")
    print(json.dumps({
        "chunks": chunks, "queries": args.queries, "ask_p50_ms": round(float(p50), 1), "ask_p95_ms": round(float(p95), 1),
        "embed_p50_ms": round(statistics.median(embed), 1), "retrieve_p50_ms": round(statistics.median(retrieve), 1),
        "answer_p50_ms": round(statistics.median(answer_ms), 1), "retrieve_p95_ms": round(float(np.percentile(retrieve, 95)), 1),
        "answer_p95_ms": round(float(np.percentile(answer_ms, 95)), 1), "cpu_ms_per_ask": round(cpu_ms, 1),
        "backend": settings.embedding_backend, "index": "reused" if args.reuse else "written",
        "load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
