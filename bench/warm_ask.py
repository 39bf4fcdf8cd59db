"""Warm `kura ask` at 100k chunks: the whole ask in a loaded process, query embedding included.

Builds an embedded index of --n synthetic chunks (bench/retrieval.py's
corpus: Zipf vocabulary, random unit vectors; latency does not depend on
what vectors mean) plus the sample corpus's real documents, then times
``KuraApp.ask`` (extractive answerer, hybrid retrieval with the permission
filter, the real default embedder embedding each query) over --queries
questions after a warm-up. Ends with one JSON line.

    python bench/warm_ask.py [--n 100000] [--queries 200]
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _synthetic_corpus():
    """bench/retrieval.py's corpus builder (loaded by path: its name clashes with the retrieval package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_retrieval", Path(__file__).resolve().parent / "retrieval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

QUESTIONS = ["Who has to approve an expense report over 50,000 yen?", "How do I set up the VPN?",
             "When is the on-call rotation handed over?", "How do I reset my password?",
             "経費精算申請書はいつまでに提出する必要がありますか？", "What does the deployment runbook say about rollbacks?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from bots.app import KuraApp, sample_connector
    from core.settings import Settings
    from core.store_edge import EdgeStore
    from retrieval.bm25 import BM25Encoder

    corpus = _synthetic_corpus()
    TERMS_PER_CHUNK, _write, synthetic_chunks = corpus.TERMS_PER_CHUNK, corpus._write, corpus.synthetic_chunks

    with tempfile.TemporaryDirectory(prefix="kura-bench-warm-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", answerer="extractive")
        store = EdgeStore(settings.index_dir / "main")
        store.ensure_collection(384)
        store.set_meta({"bm25_avg_len": float(TERMS_PER_CHUNK)})
        encoder = BM25Encoder(avg_len=TERMS_PER_CHUNK)
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        batch = []
        for item in synthetic_chunks(args.n, rng):
            batch.append(item)
            if len(batch) == 2000:
                _write(store, encoder, batch, rng)
                batch = []
        if batch:
            _write(store, encoder, batch, rng)
        store.optimize()
        store.close()
        build_s = time.perf_counter() - t0
        with KuraApp(settings) as kura:
            kura.ingest(sample_connector(), full_scope=False)  # real documents to answer from
            principals = kura.principals_for(None)
            for q in QUESTIONS:  # warm-up: model, caches
                kura.ask(q, principals=principals)
            latencies, embed_ms = [], []
            for i in range(args.queries):
                question = QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else f" ({i})")
                t = time.perf_counter()
                answer = kura.ask(question, principals=principals)
                latencies.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                kura.embedder.embed_query(question)
                embed_ms.append((time.perf_counter() - t) * 1000)
            chunks = kura.store.count()
    p50, p95 = np.percentile(latencies, [50, 95])
    print(f"{chunks} chunks (built in {build_s:.0f}s); last answer: {answer.text[:80]!r}")
    print(json.dumps({"chunks": chunks, "queries": args.queries, "ask_p50_ms": round(float(p50), 2),
                      "ask_p95_ms": round(float(p95), 2), "query_embedding_p50_ms": round(statistics.median(embed_ms), 2),
                      "backend": settings.embedding_backend, "load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
