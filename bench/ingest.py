"""End-to-end ingest throughput of `kura reindex`, and the cost of a run with nothing to do.

Generates a corpus of Markdown pages (sentences of English words from the
sample corpus's vocabulary in random order, a heading every two paragraphs)
cut into chunks of ~128 tokens (chunk size 144, overlap 16: median 122
tiktoken tokens, ~128 word-pieces), then runs the real re-index job on it twice through KuraApp, exactly as
`kura reindex` does - read files, parse, chunk, embed, BM25, write Qdrant Edge,
check, switch:

1. the first run builds the index (a full build): chunks/s, documents/s and
   the share of the time spent embedding;
2. a second run with no changes: its time as a share of the first (noop_ratio).

Ends with one JSON line. Pin the threads (default 2, the target machine's cores):

    python bench/ingest.py [--docs 160] [--threads 2] [--backend torch|openvino-int8|...] [--embed-ahead 1]

``--embed-ahead 0`` embeds in the indexing thread (no overlap with chunking);
the default is the pipeline's. CPU time is split into the indexing thread's
(chunking, BM25, writes; with 0 also tokenizing for the model) and all other
threads' (the embedding runtime): on a loaded machine these say what an idle
one would do, where the wall clock only measures the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def vocabulary() -> list[str]:
    """English words of the sample corpus: realistic word-pieces for the embedder and tokenizer."""
    from ingest.connectors.sample import SAMPLE_DIR

    words: set[str] = set()
    for path in SAMPLE_DIR.glob("*.md"):
        words.update(w for w in re.findall(r"[A-Za-z][a-z]{2,}", path.read_text(encoding="utf-8")))
    return sorted(words)


def write_corpus(folder: Path, docs: int, seed: int) -> None:
    rng = random.Random(seed)
    words = vocabulary()
    folder.mkdir(parents=True)

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(8, 18))).capitalize() + "."

    for d in range(docs):
        parts = [f"# Page {d}: {' '.join(rng.choice(words) for _ in range(3))}"]
        for s in range(4):
            parts.append(f"## Section {s}")
            parts.extend(" ".join(sentence() for _ in range(rng.randint(8, 12))) for _ in range(2))
        (folder / f"page-{d:05d}.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def run_job(settings, embedder):
    from bots.app import KuraApp

    with KuraApp(settings, embedder=embedder) as kura, kura.reindex_lock():
        return kura.reindex_job().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default=None, help="KURA_EMBEDDING_BACKEND (default: the setting's default)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--embed-ahead", type=int, default=None,
                        help="batches embedded while chunking goes on (0: no overlap; default: the pipeline's)")
    args = parser.parse_args()
    import ingest.pipeline

    if args.embed_ahead is not None:
        ingest.pipeline.EMBED_AHEAD = args.embed_ahead

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.backend == "torch":
        import torch

        torch.set_num_threads(args.threads)
    from bots.app import KuraApp
    from core.settings import Settings

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kura-bench-ingest-") as tmp:
        corpus = Path(tmp) / "docs"
        write_corpus(corpus, args.docs, args.seed)
        overrides = {"embedding_backend": args.backend} if args.backend else {}
        settings = Settings(data_dir=Path(tmp) / "data", ingest_paths=[corpus], chunk_strategy="tokens",
                            chunk_tokens=144, chunk_overlap=16, chunk_min_tokens=32, progress_interval_s=3600,
                            embedding_threads=args.threads, **overrides)
        embedder = KuraApp(settings).embedder
        embedder.embed_documents(["warm up the model"] * 4)  # model loading is not ingest throughput

        cpu0, main0 = time.process_time(), time.thread_time()
        full = run_job(settings, embedder)
        full_cpu_s, main_cpu_s = time.process_time() - cpu0, time.thread_time() - main0
        noop = run_job(settings, embedder)
        with KuraApp(settings, embedder=embedder) as kura:
            sizes = _chunk_sizes(kura.store)

    s = full.stats
    result = {
        "chunks_per_s": round(s.chunks_embedded / s.seconds, 1),
        # Per second of this process's CPU time (all its threads): on a machine shared with other jobs the wall
        # clock measures the queue; divided by the threads it approximates an idle machine's wall-clock rate.
        "chunks_per_cpu_s": round(s.chunks_embedded / max(full_cpu_s, 1e-9), 1),
        "full_cpu_s": round(full_cpu_s, 1),
        "indexing_thread_cpu_s": round(main_cpu_s, 1),
        "other_threads_cpu_s": round(full_cpu_s - main_cpu_s, 1),
        "embed_ahead": ingest.pipeline.EMBED_AHEAD,
        "docs_per_s": round(s.documents_added / s.seconds, 2),
        "embed_share": round(s.embed_seconds / s.seconds, 3),
        "noop_ratio": round(noop.stats.seconds / s.seconds, 4),
        "chunks": s.chunks_embedded,
        "documents": s.documents_added,
        "seconds": round(s.seconds, 2),
        "noop_seconds": round(noop.stats.seconds, 3),
        "noop_chunks_embedded": noop.stats.chunks_embedded,
        "median_chunk_tokens": statistics.median(sizes) if sizes else 0,
        "threads": args.threads,
        "backend": settings.embedding_backend,
        "texts_embedded": embedder.texts_embedded,
        "cache_hits": getattr(embedder, "cache_hits", 0),
        "load_average_at_start": round(load, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }
    print(f"full build: {s.documents_added} documents, {s.chunks_embedded} chunks "
          f"(median {result['median_chunk_tokens']} tokens) in {s.seconds:.1f}s, embedding {s.embed_seconds:.1f}s")
    print(f"no-change run: {noop.stats.seconds:.2f}s, {noop.stats.chunks_embedded} chunks embedded")
    print(json.dumps(result))


def _chunk_sizes(store) -> list[int]:
    """Token counts of every stored chunk (a dense query with a huge limit returns them all)."""
    from core.store import HybridQuery

    hits = store.query(HybridQuery(dense=[1.0] + [0.0] * 383, sparse=None, principals=("public",), limit=100_000))
    return [h.chunk.token_count for h in hits]


if __name__ == "__main__":
    main()
