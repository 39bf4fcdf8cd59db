"""CPU time per chunk of chunking + BM25 document encoding, as a re-index spends it (issue 14).

Runs one strategy over ``reindex_scale.write_corpus`` (generated English pages, seeded) with the word-piece
counter of either embedder backend, and prints ONE JSON line. The figure is CPU time of this process
(``time.process_time``), not wall time, so a loaded machine inflates it less; the 1-minute load is printed.
The tokenizer is loaded and warmed before timing; the model is never loaded (only counting is needed).

    HF_HUB_OFFLINE=1 python -m bench.chunking_speed --backend compiled --chunks 3000 --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def counting_embedder(backend: str):
    """An embedder whose word-piece counting is ready; ``compiled`` loads only its tokenizer, never the model."""
    from core.settings import Settings

    settings = Settings(sample_corpus=False)
    if backend == "torch":
        from retrieval.embedder import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(settings.embedding_model)
    else:
        from retrieval.embedder_compiled import CompiledEmbedder

        embedder = CompiledEmbedder(settings.embedding_model, backend=settings.embedding_backend,
                                    cache_dir=settings.embedder_cache_dir)
    embedder.count_word_pieces("warm up")
    return embedder


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("compiled", "torch"), default="compiled")
    parser.add_argument("--strategy", default="tokens")
    parser.add_argument("--chunks", type=int, default=3000, help="corpus size in chunks (about)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed part here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from bench.reindex_scale import write_corpus
    from ingest.chunking import ChunkingConfig, create_chunker
    from ingest.connectors.sample import SampleConnector
    from retrieval.bm25 import BM25Encoder

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        write_corpus(folder, args.chunks, seed=args.seed)
        documents = [SampleConnector.read(p) for p in sorted(folder.glob("*.md"))]
    embedder = counting_embedder(args.backend)
    # As KuraApp.chunker hands it over: the embedder's bound counter.
    chunker = create_chunker(args.strategy, ChunkingConfig(), model_pieces=embedder.count_word_pieces)
    bm25 = BM25Encoder()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu, wall, chunks = time.process_time(), time.perf_counter(), 0
    for document in documents:
        for chunk in chunker.split(document):
            bm25.encode_document(chunk.index_text)
            chunks += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    result = {"backend": args.backend, "strategy": args.strategy, "documents": len(documents), "chunks": chunks,
              "cpu_ms_per_chunk": round(1000 * cpu / chunks, 3), "wall_ms_per_chunk": round(1000 * wall / chunks, 3),
              "load": os.getloadavg()[0]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
