"""Retrieval quality of a faster embedding backend against the PyTorch fp32 model, on the eval sets.

For each backend (``torch`` first, as the reference) the corpus is indexed with
the real pipeline (tokens strategy, default settings) and every question is
asked through the hybrid retriever (the product setting) and dense-only (where
the embedder alone decides). Reported per set and mode: recall@5 (a relevant
document among the top 5 chunks' documents) and its difference to fp32.

Sets: the sample corpus questions (English and Japanese, relevant document ids
given), JSQuAD v1.3 validation (Japanese; each article one document, the
question's article relevant; ``--jsquad N`` questions, 0 to skip) and, with
``--squad FILE``, an English SQuAD 2.0-format file (each paragraph one
document, the question's paragraph relevant, unanswerable questions left out;
``--squad-questions N``). None of them is calibration data: openvino-int8 is
calibrated on Kura's own guides and docstrings (retrieval/calibration.py).

    python bench/embedding_quality.py --backends torch,openvino-int8 [--jsquad 600] [--squad FILE] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

JSQUAD = Path("/work/shared/datasets/jsquad/valid-v1.3.json")


def sample_set():
    from ingest.connectors.sample import SAMPLE_DIR, SampleConnector

    docs = [d for b in SampleConnector().load() for d in b.documents]
    lines = (SAMPLE_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [(q["question"], set(q["relevant_document_ids"])) for q in map(json.loads, lines)]
    return docs, questions


def jsquad_set(limit: int, seed: int = 5):
    from core.types import Document, Section

    data = json.loads(JSQUAD.read_text(encoding="utf-8"))["data"]
    docs, questions = [], []
    for i, article in enumerate(data):
        doc_id = f"jsquad:{i}"
        # Contexts read "Title [SEP] text": keep the text, one section per paragraph.
        sections = tuple(Section(p["context"].split("[SEP]", 1)[-1].strip()) for p in article["paragraphs"])
        docs.append(Document("jsquad", str(i), article["title"], sections))
        questions += [(qa["question"], {doc_id}) for p in article["paragraphs"] for qa in p["qas"]]
    random.Random(seed).shuffle(questions)
    return docs, questions[:limit]


def squad_set(path: Path, limit: int, seed: int = 5):
    from core.types import Document, Section

    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    docs, questions = [], []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"squad:{a}-{p}"
            docs.append(Document("squad", f"{a}-{p}", article["title"].replace("_", " "),
                                 (Section(paragraph["context"]),)))
            questions += [(qa["question"], {doc_id}) for qa in paragraph["qas"] if not qa.get("is_impossible")]
    random.Random(seed).shuffle(questions)
    return docs, questions[:limit]


def evaluate(embedder, docs, questions, tmp: Path) -> dict[str, float]:
    from core.protocols import SyncBatch
    from core.store_edge import EdgeStore
    from ingest.chunking import ChunkingConfig, create_chunker
    from ingest.pipeline import IndexPipeline
    from retrieval.bm25 import BM25Encoder
    from retrieval.hybrid import HybridRetriever

    store = EdgeStore(tmp)
    chunker = create_chunker("tokens", ChunkingConfig(), model_pieces=embedder.count_word_pieces)
    IndexPipeline(store, chunker, embedder, BM25Encoder()).index([SyncBatch(documents=docs)])
    principals = sorted({p for d in docs for p in d.principals})
    retriever = HybridRetriever(store, embedder, BM25Encoder(avg_len=store.get_meta()["bm25_avg_len"]))
    out = {}
    for mode in ("hybrid", "dense"):
        hits = 0
        for question, relevant in questions:
            found = retriever.retrieve(question, top_k=5, principals=principals, mode=mode)
            hits += bool({h.chunk.document_id for h in found} & relevant)
        out[mode] = hits / len(questions)
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="torch,openvino-int8,onnx-int8")
    parser.add_argument("--jsquad", type=int, default=600)
    parser.add_argument("--squad", type=Path, default=None, help="an English SQuAD 2.0-format file")
    parser.add_argument("--squad-questions", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from core.settings import Settings
    from bots.app import KuraApp

    sets = {"sample": sample_set()}
    if args.jsquad and JSQUAD.exists():
        sets["jsquad"] = jsquad_set(args.jsquad)
    if args.squad:
        sets["squad-en"] = squad_set(args.squad, args.squad_questions)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kura-bench-quality-") as tmp:
        for backend in args.backends.split(","):
            settings = Settings(data_dir=Path(tmp) / "data", embedding_backend=backend, embedding_threads=args.threads)
            embedder = KuraApp(settings).embedder
            for name, (docs, questions) in sets.items():
                t0 = time.perf_counter()
                scores = evaluate(embedder, docs, questions, Path(tmp) / f"{backend}-{name}")
                results.setdefault(name, {})[backend] = scores
                print(f"{name:7s} {backend:14s} hybrid R@5 {scores['hybrid']:.4f}  dense R@5 {scores['dense']:.4f}"
                      f"  ({len(questions)} questions, {time.perf_counter() - t0:.0f}s)", flush=True)
    reference = args.backends.split(",")[0]
    deltas = {
        f"{name}/{mode}/{backend}": round(scores[mode] - by_backend[reference][mode], 4)
        for name, by_backend in results.items()
        for backend, scores in by_backend.items()
        if backend != reference
        for mode in ("hybrid", "dense")
    }
    print(json.dumps({"recall_at_5": results, "delta_vs_" + reference: deltas}))


if __name__ == "__main__":
    main()
