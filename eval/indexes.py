"""Eval indexes: one embedded Qdrant index per (dataset, chunking strategy), cached, never the serving index.

An index lives in ``<cache_dir>/eval/<dataset>-<fingerprint>-<corpus>/<strategy>-<key>/``
where the key covers everything that changes the vectors (chunker signature,
embedding model, passage prefix, BM25 parameters). A repeated run finds the
documents unchanged (the pipeline compares content hashes) and embeds nothing.

Always the embedded engine, even when Kura is configured with a Qdrant server:
an eval run must not create or touch collections on the production server.
Strategies are looked up by name in the chunking registry, so new strategies
are evaluated without changes here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from core.errors import EvalError
from core.protocols import SyncBatch
from core.store_edge import EdgeStore
from core.types import Chunk, Document, content_hash
from eval.datasets import EvalDataset
from ingest.pipeline import IndexPipeline, IndexStats
from retrieval.bm25 import BM25Encoder
from retrieval.hybrid import FusionConfig, HybridRetriever

logger = logging.getLogger(__name__)

STATS_FILE = "eval-chunks.json"


@dataclass
class ChunkStats:
    """What a strategy made of the corpus: chunk count and size, and whether chunk offsets are right."""

    chunks: int = 0
    mean_tokens: float = 0.0
    mean_chars: float = 0.0
    offset_errors: int = 0  # chunks whose start_char does not locate their text in Document.text
    synthetic: int = 0  # chunks that are not spans of their document by design (start_char -1: summaries)
    build_seconds: float = 0.0
    chunker: str = ""
    cached: bool = False

    @classmethod
    def measure(cls, documents: list[Document], chunks: list[Chunk]) -> "ChunkStats":
        texts = {d.id: d.text for d in documents}
        errors = sum(
            1
            for c in chunks
            if c.start_char >= 0 and texts.get(c.document_id, "")[c.start_char : c.start_char + len(c.text)] != c.text
        )
        n = max(1, len(chunks))
        return cls(
            chunks=len(chunks),
            mean_tokens=sum(c.token_count for c in chunks) / n,
            mean_chars=sum(len(c.text) for c in chunks) / n,
            offset_errors=errors,
            synthetic=sum(1 for c in chunks if c.start_char < 0),
        )


class _RecordingChunker:
    """Passes ``split`` through to a strategy and keeps the chunks, to measure them without chunking twice."""

    def __init__(self, chunker) -> None:
        self.inner = chunker
        self.name = chunker.name
        self.signature = getattr(chunker, "signature", chunker.name)
        self.chunks: list[Chunk] = []

    def split(self, document: Document) -> list[Chunk]:
        chunks = self.inner.split(document)
        self.chunks.extend(chunks)
        return chunks


class EvalIndexes:
    """Builds (or reuses) the index of a dataset under one chunking strategy, and retrievers over it."""

    def __init__(self, kura, dataset: EvalDataset) -> None:
        self.kura = kura  # bots.app.KuraApp: the same chunkers, embedder and settings as serving
        self.settings = kura.settings
        self.dataset = dataset
        self.root = self.settings.cache_dir / "eval" / f"{_slug(dataset.name)}-{dataset.fingerprint[:10]}-{dataset.corpus_mode}"

    def chunker(self, strategy: str):
        """The chunker for a strategy spec ``NAME[:SIZE[/OVERLAP]]`` (sizes in tokens; default from settings).

        Without an explicit overlap, overlap and minimum chunk size scale with
        the size in the same proportion as the configured ones, so ``tokens:100``
        and ``tokens:400`` differ in granularity only.
        """
        from ingest.chunking import create_chunker

        name, _, size_spec = strategy.partition(":")
        try:
            if not size_spec:
                return self.kura.chunker(name)  # exactly as serving builds it, collaborators included
            config = _resized(self.kura.chunking_config(), size_spec, strategy)
            return create_chunker(
                name, config, model_pieces=self.kura.embedder.count_word_pieces, summarizer=self.kura.summarizer
            )
        except ValueError as exc:  # unknown strategy: the registry names the known ones
            raise EvalError(str(exc)) from exc

    def path_for(self, strategy: str, chunker) -> Path:
        s = self.settings
        signature = getattr(chunker, "signature", strategy)
        key = content_hash(f"{signature}|{s.embedding_model}|{s.embedding_passage_prefix}|{s.bm25_k1}|{s.bm25_b}")
        return self.root / f"{_slug(strategy)}-{key[:10]}"

    def build(self, strategy: str, on_progress: Callable[[IndexStats], None] | None = None) -> tuple[EdgeStore, ChunkStats]:
        """The strategy's index, built on first use; chunk statistics beside it."""
        chunker = self.chunker(strategy)
        path = self.path_for(strategy, chunker)
        store = EdgeStore(path)
        recorder = _RecordingChunker(chunker)
        pipeline = IndexPipeline(
            store,
            recorder,
            self.kura.embedder,
            BM25Encoder(k1=self.settings.bm25_k1, b=self.settings.bm25_b),
            embedding_model=self.settings.embedding_model,
            on_progress=on_progress,
        )
        started = time.perf_counter()
        documents = list(self.dataset.documents)
        # Small batches, so progress shows while a large corpus embeds.
        stats = pipeline.index(SyncBatch(documents=documents[i : i + 4]) for i in range(0, len(documents), 4))
        if stats.failures:
            reasons = "; ".join(f"{f.source_id}: {f.reason}" for f in stats.failures[:3])
            raise EvalError(f"strategy {strategy!r} failed on {len(stats.failures)} documents: {reasons}")
        stats_file = path / STATS_FILE
        if recorder.chunks and stats.documents_unchanged == 0:
            chunk_stats = ChunkStats.measure(self.dataset.documents, recorder.chunks)
            chunk_stats.build_seconds = time.perf_counter() - started
            chunk_stats.chunker = recorder.signature
            stats_file.write_text(json.dumps(asdict(chunk_stats)), encoding="utf-8")
        elif stats_file.exists() and not recorder.chunks:
            chunk_stats = ChunkStats(**{**asdict(ChunkStats()), **json.loads(stats_file.read_text(encoding="utf-8"))})
            chunk_stats.cached = True
        else:
            # Part of the index was already there (an interrupted build): measure on a fresh split.
            chunks = [c for d in self.dataset.documents for c in chunker.split(d)]
            chunk_stats = ChunkStats.measure(self.dataset.documents, chunks)
            chunk_stats.chunker = recorder.signature
            stats_file.write_text(json.dumps(asdict(chunk_stats)), encoding="utf-8")
        if chunk_stats.offset_errors:
            logger.warning(
                "strategy %s: %d of %d chunks have a start_char that does not locate their text; they count as irrelevant",
                strategy,
                chunk_stats.offset_errors,
                chunk_stats.chunks,
            )
        logger.info("eval index %s ready at %s (%s)", strategy, path, stats.summary_line())
        return store, chunk_stats

    def retriever(self, store: EdgeStore) -> HybridRetriever:
        """A retriever over an eval index with the serving fusion settings."""
        s = self.settings
        fusion = FusionConfig(s.dense_weight, s.bm25_weight, s.rrf_k, s.prefetch_k, s.unk_threshold)
        return HybridRetriever(store, self.kura.embedder, self.sparse_encoder(store), fusion, s.retriever_mode,
                               self.kura.respeller)

    def sparse_encoder(self, store: EdgeStore) -> BM25Encoder:
        """The BM25 encoder of this eval index (its average chunk length)."""
        s = self.settings
        return BM25Encoder(k1=s.bm25_k1, b=s.bm25_b, avg_len=store.get_meta().get("bm25_avg_len", 100.0))


def _resized(config, size_spec: str, strategy: str):
    size_text, _, overlap_text = size_spec.partition("/")
    try:
        size = int(size_text)
        overlap = int(overlap_text) if overlap_text else round(config.overlap_tokens * size / config.chunk_tokens)
        min_tokens = round(config.min_tokens * size / config.chunk_tokens)
        return replace(config, chunk_tokens=size, overlap_tokens=overlap, min_tokens=min_tokens)
    except ValueError as exc:
        raise EvalError(f"bad strategy {strategy!r}: use NAME, NAME:SIZE or NAME:SIZE/OVERLAP ({exc})") from exc


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:60] or "dataset"
