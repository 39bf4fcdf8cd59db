"""The composition root: builds Kura's parts from settings, once, and wires them together.

Every entry point (CLI, web app, Slack bot, re-index job) goes through KuraApp,
so they all answer the same way. Heavy parts (embedding model, index) load
lazily on first use.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from core.errors import StoreNotFoundError
from core.identity import IdentityStore
from core.protocols import Connector
from core.settings import Settings
from core.store import ChunkStore
from core.store_factory import open_store
from core.types import Answer
from chat.extractive import ExtractiveAnswerer
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline, IndexStats
from retrieval.bm25 import BM25Encoder
from retrieval.embedder import SentenceTransformerEmbedder
from retrieval.hybrid import FusionConfig, HybridRetriever

logger = logging.getLogger(__name__)


class KuraApp:
    """Kura's parts, built from one Settings object."""

    def __init__(self, settings: Settings, *, embedder: SentenceTransformerEmbedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._store: ChunkStore | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs) -> "KuraApp":
        from core.settings import load_settings

        return cls(settings or load_settings(), **kwargs)

    # --- parts -------------------------------------------------------------------------
    @property
    def embedder(self) -> SentenceTransformerEmbedder:
        if self._embedder is None:
            s = self.settings
            self._embedder = SentenceTransformerEmbedder(
                s.embedding_model,
                batch_size=s.embedding_batch_size,
                query_prefix=s.embedding_query_prefix,
                passage_prefix=s.embedding_passage_prefix,
                device=s.embedding_device,
            )
        return self._embedder

    @property
    def store(self) -> ChunkStore:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    @functools.cached_property
    def identity(self) -> IdentityStore:
        return IdentityStore(self.settings.state_dir / "identity.sqlite")

    def sparse_encoder(self) -> BM25Encoder:
        s = self.settings
        avg_len = self.store.get_meta().get("bm25_avg_len", 100.0) if self.store.exists() else 100.0
        return BM25Encoder(k1=s.bm25_k1, b=s.bm25_b, avg_len=avg_len)

    @functools.cached_property
    def retriever(self) -> HybridRetriever:
        s = self.settings
        fusion = FusionConfig(s.dense_weight, s.bm25_weight, s.rrf_k, s.prefetch_k, s.unk_threshold)
        return HybridRetriever(self.store, self.embedder, self.sparse_encoder(), fusion, s.retriever_mode)

    @functools.cached_property
    def extractive(self) -> ExtractiveAnswerer:
        s = self.settings
        return ExtractiveAnswerer(max_sentences=s.answer_sentences, abstain_threshold=s.abstain_threshold)

    def chunking_config(self) -> ChunkingConfig:
        s = self.settings
        return ChunkingConfig(
            chunk_tokens=s.chunk_tokens,
            overlap_tokens=s.chunk_overlap,
            min_tokens=s.chunk_min_tokens,
            encoding=s.tokenizer_encoding,
            max_model_tokens=self.embedder.max_seq_length,
        )

    def chunker(self, strategy: str | None = None):
        return create_chunker(
            strategy or self.settings.chunk_strategy,
            self.chunking_config(),
            model_pieces=self.embedder.count_word_pieces,
        )

    def pipeline(
        self,
        *,
        strategy: str | None = None,
        store: ChunkStore | None = None,
        on_progress: Callable[[IndexStats], None] | None = None,
    ) -> IndexPipeline:
        return IndexPipeline(
            store or self.store,
            self.chunker(strategy),
            self.embedder,
            BM25Encoder(k1=self.settings.bm25_k1, b=self.settings.bm25_b),
            embedding_model=self.settings.embedding_model,
            on_progress=on_progress,
        )

    # --- jobs --------------------------------------------------------------------------
    def ingest(
        self,
        connector: Connector,
        *,
        full_scope: bool = True,
        on_progress: Callable[[IndexStats], None] | None = None,
    ) -> IndexStats:
        """Index everything a connector lists; with ``full_scope`` its documents no longer listed are removed."""
        pipeline = self.pipeline(on_progress=on_progress)
        scope: set[str] = set(getattr(connector, "scope", ()))

        def batches():
            for batch in connector.load():
                if not getattr(connector, "scope", None):
                    scope.update(f"{d.source}:" for d in batch.documents)
                yield batch

        # The pipeline reads ``scope`` after the last batch, when it holds every id prefix this connector listed.
        stats = pipeline.index(batches(), full_scope=scope if full_scope else ())
        self.store.flush()
        self._refresh_retriever()
        return stats

    def record_identities(self, source: str, grants: dict[str, Iterable[str]], aliases: dict[str, str] | None = None):
        self.identity.replace_grants(source, grants)
        for alias, email in (aliases or {}).items():
            self.identity.add_alias(alias, email)

    def _refresh_retriever(self) -> None:
        # The BM25 average length may have just been fixed by the first ingest.
        self.__dict__.pop("retriever", None)

    # --- asking ------------------------------------------------------------------------
    def principals_for(self, email: str | None) -> tuple[str, ...]:
        return self.identity.principals_for(email)

    def ask(
        self,
        question: str,
        *,
        principals: Sequence[str],
        history: Sequence[tuple[str, str]] | None = None,
        answerer: str | None = None,
        mode: str | None = None,
        sources: Iterable[str] = (),
    ) -> Answer:
        """Retrieve what these principals may read and answer from it."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        if not self.store.exists():
            raise StoreNotFoundError("no index yet: run `kura ingest` first")
        t0 = time.perf_counter()
        hits = self.retriever.retrieve(
            question, top_k=self.settings.top_k, principals=principals, mode=mode, sources=sources
        )
        t1 = time.perf_counter()
        answer = self.extractive.answer(question, hits)
        answer.timings_ms["retrieve"] = (t1 - t0) * 1000
        return answer

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> "KuraApp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sample_connector():
    from ingest.connectors.sample import SampleConnector

    return SampleConnector()


def files_connector(path: Path):
    from ingest.connectors.files import FilesConnector

    return FilesConnector(path)
