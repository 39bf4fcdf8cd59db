"""Chunking and BM25 output pinned on a realistic corpus: a speed-up of the chunker must not move one chunk.

Chunk ids derive from the index text, so any change in a boundary, a prefix or a count would re-chunk every
index and move eval figures. This runs every strategy that needs no LLM (tokens, structure, contextual and
summary on both bases, with the offline extractive summarizer) under two configurations over the sample
corpus plus generated long English, Japanese and mixed documents, and compares each chunk's text, index
text, token count, offset, heading path, id and BM25 sparse vector with ``chunking_pinned.json``.

The pinned file was written by the chunker as it was before the counting was cached and batched (session 6,
issue 14). Regenerate it only for an intended change of the output, which needs ``kura reindex --full``:

    HF_HUB_OFFLINE=1 python -m tests.ingest.test_chunking_pinned --write
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path

import pytest

from core.types import Document
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.connectors.sample import SAMPLE_DIR, SampleConnector
from ingest.markdown import parse_sections
from retrieval.bm25 import BM25Encoder

PINNED = Path(__file__).with_name("chunking_pinned.json")
CONFIGS = {
    "default": ChunkingConfig(),
    "small": ChunkingConfig(chunk_tokens=120, overlap_tokens=20, min_tokens=40, max_model_tokens=256),
}
STRATEGIES = {  # label -> (strategy, base strategy)
    "tokens": ("tokens", "tokens"),
    "structure": ("structure", "tokens"),
    "contextual/tokens": ("contextual", "tokens"),
    "contextual/structure": ("contextual", "structure"),
    "summary/tokens": ("summary", "tokens"),
}


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def generated_documents() -> list[Document]:
    """Long documents built from the sample corpus's own sentences and words (deterministic, seeded)."""
    rng = random.Random(14)
    # The documents only: the folder's README describes the question sets and changes with them.
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_DIR.glob("*.md")) if p.name != "README.md"]
    words = sorted({w for t in texts for w in re.findall(r"[A-Za-z][a-z]{2,}", t)})
    ja_sentences = sorted({s.strip() + "。" for t in texts for line in t.splitlines() for s in line.split("。")[:-1]
                           if len(s.strip()) > 8 and re.search(r"[\u3040-\u30ff]", s)})

    def english_paragraph() -> str:
        sentences = []
        for _ in range(rng.randint(2, 9)):
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(5, 30))).capitalize()
            sentences.append(sentence + rng.choice([".", ".", ".", "?", "!", ";", ","]))
        return " ".join(sentences)

    def japanese_paragraph() -> str:
        return "".join(rng.choice(ja_sentences).strip() for _ in range(rng.randint(2, 12)))

    def body(paragraph, n: int) -> str:
        parts = []
        for i in range(n):
            if i % 4 == 0:
                parts.append(f"## {paragraph()[:30].strip()}")
            if i % 11 == 5:  # a table wider than one chunk
                parts.append("| key | value |\n|---|---|\n" + "\n".join(
                    f"| {rng.choice(words)} {k} | {paragraph()[:60]} |" for k in range(rng.randint(3, 40))))
            elif i % 13 == 7:  # a list
                parts.append("\n".join(f"- {paragraph()[:80]}" for _ in range(rng.randint(2, 8))))
            else:
                parts.append(paragraph())
        return "\n\n".join(parts)

    docs = []
    for k in range(3):
        docs.append(("en-long", k, body(english_paragraph, 60)))
        docs.append(("ja-long", k, body(japanese_paragraph, 50)))
        docs.append(("mixed", k, body(lambda: rng.choice([english_paragraph, japanese_paragraph])(), 40)))
    # Shapeless text: one paragraph without sentence punctuation, and one Japanese run without any break.
    docs.append(("shapeless", 0, " ".join(rng.choice(words) for _ in range(4000))))
    docs.append(("shapeless", 1, "".join(rng.choice(ja_sentences).rstrip("。") for _ in range(200))))
    out = []
    for name, k, text in docs:
        title, sections = parse_sections(text, title=f"{name} {k}")
        out.append(Document(source="confluence", source_id=f"{name}-{k}", title=title, sections=sections,
                            metadata={"breadcrumb": "Space > Generated"}))
    return out


def corpus() -> list[Document]:
    return [SampleConnector.read(p) for p in sorted(SAMPLE_DIR.glob("*.md")) if p.name != "README.md"] + generated_documents()


def chunk_rows(documents: list[Document], model_pieces) -> dict[str, dict[str, list]]:
    """label/config -> document id -> one row per chunk."""
    bm25 = BM25Encoder(avg_len=100.0)
    sparse: dict[str, str] = {}  # the same index text under several strategies is encoded once
    out: dict[str, dict[str, list]] = {}
    for config_name, config in CONFIGS.items():
        for label, (strategy, base) in STRATEGIES.items():
            cfg = ChunkingConfig(**{**config.__dict__, "base_strategy": base})
            chunker = create_chunker(strategy, cfg, model_pieces=model_pieces)
            per_doc = out.setdefault(f"{label}@{config_name}", {})
            for document in documents:
                rows = []
                for c in chunker.split(document):
                    if c.index_text not in sparse:
                        v = bm25.encode_document(c.index_text)
                        sparse[c.index_text] = _digest(repr((v.indices, v.values)))
                    rows.append([c.ordinal, c.start_char, c.token_count, " > ".join(c.heading_path), len(c.text),
                                 _digest(c.text), _digest(c.index_text), c.id, sparse[c.index_text]])
                per_doc[document.id] = rows
    return out


def _first_difference(pinned: dict, now: dict) -> str:
    for key in pinned:
        for doc_id, rows in pinned[key].items():
            got = now.get(key, {}).get(doc_id)
            if got != rows:
                got = got or []
                for i in range(max(len(rows), len(got))):
                    a = rows[i] if i < len(rows) else None
                    b = got[i] if i < len(got) else None
                    if a != b:
                        return f"{key} {doc_id} chunk {i}: pinned {a}, now {b} ({len(rows)} vs {len(got)} chunks)"
    return f"keys differ: {sorted(set(pinned) ^ set(now))}"


@pytest.fixture(scope="module")
def documents():
    return corpus()


def test_corpus_is_realistic(documents):
    texts = [d.text for d in documents]
    assert len(documents) >= 45  # 37 sample documents and 11 generated
    assert sum(len(t) for t in texts) > 300_000
    assert sum(bool(re.search(r"[\u3040-\u30ff]", t)) for t in texts) > 10  # Japanese documents


def test_chunks_and_sparse_vectors_are_unchanged(documents, embedder):
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    now = chunk_rows(documents, embedder.count_word_pieces)
    assert sum(len(rows) for per_doc in now.values() for rows in per_doc.values()) > 2000
    assert now == pinned, _first_difference(pinned, now)


if __name__ == "__main__" and "--write" in sys.argv:
    from retrieval.embedder import SentenceTransformerEmbedder

    rows = chunk_rows(corpus(), SentenceTransformerEmbedder().count_word_pieces)
    PINNED.write_text(json.dumps(rows, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {PINNED}: {sum(len(r) for d in rows.values() for r in d.values())} chunks")
