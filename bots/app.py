"""The composition root: builds Kura's parts from settings, once, and wires them together.

Every entry point (CLI, web app, Slack bot, re-index job) goes through KuraApp,
so they all answer the same way. Heavy parts (embedding model, index) load
lazily on first use.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from core.errors import ConfigError, StoreNotFoundError
from core.identity import IdentityStore
from core.protocols import Connector
from core.settings import Settings
from core.store import ChunkStore
from core.store_factory import open_store
from core.types import Answer
from chat.extractive import ExtractiveAnswerer
from chat.llm_answerer import LLMAnswerer
from chat.llm_client import LLMClient
from chat.prompts import load_prompt
from chat.rewrite import QueryRewriter
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

    @functools.cached_property
    def llm(self) -> LLMAnswerer:
        if not self.settings.llm_configured:
            raise ConfigError("the LLM answerer needs an endpoint: set KURA_LLM_BASE_URL (see chat/README.md)")
        return LLMAnswerer(self.settings, extractive=self.extractive)

    @functools.cached_property
    def rewriter(self) -> QueryRewriter:
        """Follow-up rewriting: with the LLM when one is configured (and enabled), by key terms otherwise."""
        s = self.settings
        if s.llm_configured and s.llm_rewrite_followups:
            prompt = load_prompt("rewrite", s.llm_rewrite_prompt_version, s.llm_prompts_dir)
            # No retries: a failed rewrite falls back to key terms at once instead of delaying the answer.
            return QueryRewriter(client=LLMClient.from_settings(s, max_retries=0), prompt=prompt)
        return QueryRewriter()

    def answerer_name(self, answerer: str | None = None) -> str:
        """``llm`` or ``extractive``: the override, else the setting; ``auto`` means llm when an endpoint is set."""
        name = answerer or self.settings.answerer
        if name == "auto":
            return "llm" if self.settings.llm_configured else "extractive"
        if name not in ("llm", "extractive"):
            raise ConfigError(f"unknown answerer {name!r}: use auto, extractive or llm")
        return name

    def _retrieve(self, question, principals, history, mode, sources) -> tuple[list, dict[str, float]]:
        """Rewrite a follow-up into a standalone query, then retrieve what these principals may read."""
        if not self.store.exists():
            raise StoreNotFoundError("no index yet: run `kura ingest` first")
        t0 = time.perf_counter()
        query = self.rewriter.rewrite(question, history).query if history else question
        t1 = time.perf_counter()
        hits = self.retriever.retrieve(query, top_k=self.settings.top_k, principals=principals, mode=mode, sources=sources)
        timings = {"retrieve": (time.perf_counter() - t1) * 1000}
        if history:
            timings["rewrite"] = (t1 - t0) * 1000
            logger.info("follow-up rewritten for retrieval (%d chars)", len(query))
        return hits, timings

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
        """Retrieve what these principals may read and answer from it.

        ``history`` is the conversation so far as (role, text) turns, role ``user`` or ``assistant``.
        """
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        name = self.answerer_name(answerer)
        hits, timings = self._retrieve(question, principals, history, mode, sources)
        if name == "llm":
            answer = self.llm.answer(question, hits, history=history)
        else:
            answer = self.extractive.answer(question, hits)
        answer.timings_ms.update(timings)
        return answer

    def ask_stream(
        self,
        question: str,
        *,
        principals: Sequence[str],
        history: Sequence[tuple[str, str]] | None = None,
        answerer: str | None = None,
        mode: str | None = None,
        sources: Iterable[str] = (),
    ) -> Iterator[str | Answer]:
        """Like ``ask``, but yields verified text deltas first; the last item is the Answer (authoritative)."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        name = self.answerer_name(answerer)
        hits, timings = self._retrieve(question, principals, history, mode, sources)
        if name == "llm":
            items = self.llm.stream(question, hits, history=history)
        else:
            answer = self.extractive.answer(question, hits)
            items = iter([answer.text, answer])
        for item in items:
            if isinstance(item, Answer):
                item.timings_ms.update(timings)
            yield item

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
