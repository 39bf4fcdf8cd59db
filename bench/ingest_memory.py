"""Peak memory of `kura ingest --path` on one very large text file (issue 16: a 50 MB file reached 7 GB).

    python bench/ingest_memory.py [--mb 50] [--embedder hashing|model]

Writes a text file of ``--mb`` MB (paragraphs of English words from the sample
corpus, seeded) and ingests its folder through ``KuraApp.ingest`` - the path
`kura ingest --path` takes: the files connector, the per-document size limit
(raised above the file for the run), part-by-part chunking with the real
tokenizer's word-piece counts, BM25, embedding batches of 128, Qdrant Edge.
Peak RSS comes from ``getrusage`` (the whole process: model, tokenizer, store).

``--embedder hashing`` (default) replaces only the vector computation by a
deterministic 384-dim hashing of the chunk's words: a 50 MB file is ~60,000
chunks, an hour of the real model on this loaded 2-core machine. The configured
embedder (the default backend, as `kura ingest` builds it) is still loaded - its
tokenizer counts word-pieces for chunking - so its memory is in the figure;
``--embedder model`` runs the real vectors (use a smaller ``--mb``) to show that
embedding adds a constant. CPU time (all threads) is reported beside the wall
clock, which on a shared machine measures the queue.

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def write_text_file(path: Path, megabytes: float, seed: int = 16) -> int:
    """A plain-text file of about ``megabytes`` MB: paragraphs of 30-120 words separated by blank lines."""
    from ingest.connectors.sample import SAMPLE_DIR

    words = sorted({w for p in SAMPLE_DIR.glob("*.md") for w in p.read_text(encoding="utf-8").split()
                    if w.isascii() and w.isalpha()})
    rng = random.Random(seed)
    target, written = int(megabytes * 1_000_000), 0
    with path.open("w", encoding="utf-8") as fh:
        while written < target:
            paragraph = " ".join(rng.choice(words) for _ in range(rng.randint(30, 120))) + ".\n\n"
            fh.write(paragraph)
            written += len(paragraph.encode("utf-8"))
    return written


class HashingEmbedder:
    """The real embedder's tokenizer and dimension; vectors from hashed words instead of the model (see above)."""

    def __init__(self, real) -> None:
        self.real = real
        self.dimension = real.dimension

    def count_word_pieces(self, text: str) -> int:
        return self.real.count_word_pieces(text)

    def embed_documents(self, texts):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in zip(out, texts):
            for word in text.split():
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                row[int.from_bytes(digest, "little") % self.dimension] += 1
            row /= max(1e-9, float(np.linalg.norm(row)))
        return out

    def embed_query(self, text: str):
        return self.embed_documents([text])[0]

    def __getattr__(self, name):  # anything else (model name, unknown share, ...) is the real embedder's
        return getattr(self.real, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--embedder", choices=("hashing", "model"), default="hashing")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from bots.app import KuraApp, files_connector
    from core.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="kura-bench-memory-"))
    folder = work / "docs"
    folder.mkdir()
    size = write_text_file(folder / "big.txt", args.mb)
    limit_mb = size / 1_000_000 + 1
    settings = Settings(data_dir=work / "data", max_document_mb=limit_mb)
    real = KuraApp(settings).embedder  # the configured backend, behind its content-hash cache
    real.count_word_pieces("warm up")  # loads the model and tokenizer: part of the baseline
    real.embed_documents(["warm up"])
    embedder = real if args.embedder == "model" else HashingEmbedder(real)
    baseline = peak_rss_mb()
    started, cpu0 = time.perf_counter(), time.process_time()
    with KuraApp(settings, embedder=embedder) as app:
        stats = app.ingest(files_connector(folder, max_mb=limit_mb))
        chunks = app.store.count()
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu0
    print(json.dumps({
        "file_mb": round(size / 1e6, 1), "embedder": args.embedder, "documents_added": stats.documents_added,
        "documents_failed": stats.documents_failed, "chunks": chunks, "seconds": round(seconds, 1),
        "cpu_s": round(cpu_s, 1), "backend": settings.embedding_backend,
        "baseline_rss_mb": round(baseline), "peak_rss_mb": round(peak_rss_mb()),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }))
    shutil.rmtree(work, ignore_errors=True)  # the file and its index: hundreds of MB in /tmp otherwise


if __name__ == "__main__":
    main()
