"""The composition root: builds Kura's parts from settings, once, and wires them together.

Every entry point (CLI, web app, Slack bot, re-index job) goes through KuraApp,
so they all answer the same way. Heavy parts (embedding model, index) load
lazily on first use.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from bots.private_files import private_dir
from core.errors import ConfigError, ConnectorError, JobLockedError, StoreNotFoundError
from core.identity import IdentityStore
from core.index_layout import IndexLayout
from core.settings import Settings
from core.store import ChunkStore
from core.store_factory import current_index_dir, open_store
from core.types import Answer
from retrieval.bm25 import BM25Encoder
from retrieval.hybrid import FusionConfig, HybridRetriever
from retrieval.multiquery import MultiQueryRetriever
from retrieval.term_bridge import LazyTermBridge

from bots.observe import AnswerObserver
# Ingestion, the LLM client and the chunkers are imported where they are used: a cold `kura ask` must not pay
# for openai, langchain or the re-index job (measured with `python -X importtime`; bench/cold_ask.py).
if TYPE_CHECKING:
    from chat.answerability import AnswerabilityModel, StoreTermStats
    from chat.extractive import ExtractiveAnswerer
    from chat.llm_answerer import LLMAnswerer
    from chat.rewrite import CrossLanguageRewriter, QueryRewriter
    from core.protocols import Connector
    from ingest.chunking import ChunkingConfig
    from ingest.generations import IndexGenerations
    from ingest.pipeline import IndexPipeline, IndexStats
    from ingest.reindex import IndexSource, ReindexJob
    from ingest.summarize import Summarizer

logger = logging.getLogger(__name__)


class KuraApp:
    """Kura's parts, built from one Settings object."""

    def __init__(self, settings: Settings, *, embedder=None) -> None:
        self.settings = settings
        # The data directory holds restricted documents and answers: the server's user only.
        private_dir(settings.data_dir, tighten=True)
        self._embedder = embedder
        self._store: ChunkStore | None = None
        self._store_path: Path | None = None  # the embedded index directory the open store serves from
        # Stores a re-index switched away from, with when: closed once queries that started on them are done.
        self._retired: list[tuple[float, ChunkStore]] = []
        self._switch_lock = threading.Lock()
        self._retriever: HybridRetriever | None = None
        self._sentence_store = None  # the answerability check's, once built

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs) -> "KuraApp":
        from core.settings import load_settings

        return cls(settings or load_settings(), **kwargs)

    # --- parts -------------------------------------------------------------------------
    @property
    def embedder(self):
        """The configured embedder (compiled int8 by default, torch as fallback), behind a content-hash cache."""
        if self._embedder is None:
            from retrieval.embedder_factory import embedder_from_settings

            self._embedder = embedder_from_settings(self.settings)
        return self._embedder

    @property
    def store(self) -> ChunkStore:
        self._follow_serving_index()
        if self._store is None:
            self._store = open_store(self.settings)
            if not self.settings.qdrant_url:
                self._store_path = current_index_dir(self.settings.index_dir)
        return self._store

    # Seconds a store a re-index switched away from stays open for the queries that started on it. Every store
    # use of a request (retrieval, term counts, the readable-turns check) takes milliseconds to seconds.
    retired_grace_s = 30.0

    def _follow_serving_index(self) -> None:
        """Reopen the embedded index when a re-index switched CURRENT to a new one.

        One small file read per call. Queries already running on the old store
        finish on it; it is closed by the first call ``retired_grace_s`` after
        the switch. Kept open until the next switch instead, it held the old
        generation's memory in the serving process and its deleted files on
        disk (the job removes the directory, the mappings keep the space) until
        the next re-index: bench/reindex_scale.py. (A Qdrant server follows its
        collection alias by itself.)
        """
        if self._store is None or self.settings.qdrant_url:
            return
        retired = self._retired  # replaced, never changed in place: this thread's view stays whole
        if retired and time.monotonic() - retired[-1][0] >= self.retired_grace_s:
            with self._switch_lock:
                if self._retired is retired:
                    self._close_retired()
        serving = current_index_dir(self.settings.index_dir)
        if serving == self._store_path:
            return
        with self._switch_lock:
            if self._store is None or serving == self._store_path:
                return
            logger.info("the serving index moved to %s; reopening", serving.name)
            self._close_retired()
            self._retired = [(time.monotonic(), self._store)]
            self._store, self._store_path = None, None
            self._retriever = None

    @functools.cached_property
    def identity(self) -> IdentityStore:
        return IdentityStore(self.settings.state_dir / "identity.sqlite")

    def sparse_encoder(self) -> BM25Encoder:
        s = self.settings
        avg_len = self.store.get_meta().get("bm25_avg_len", 100.0) if self.store.exists() else 100.0
        return BM25Encoder(k1=s.bm25_k1, b=s.bm25_b, avg_len=avg_len)

    @property
    def retriever(self) -> HybridRetriever:
        self._follow_serving_index()
        if self._retriever is None:
            s = self.settings
            fusion = FusionConfig(s.dense_weight, s.bm25_weight, s.rrf_k, s.prefetch_k, s.unk_threshold)
            self._retriever = HybridRetriever(
                self.store, self.embedder, self.sparse_encoder(), fusion, s.retriever_mode, self.respeller
            )
        return self._retriever

    @property
    def respeller(self):
        """Typing slips in a query corrected against the index (retrieval/respell.py), unless KURA_RESPELL=false."""
        from retrieval.respell import default_respeller

        return default_respeller() if self.settings.respell else None

    @functools.cached_property
    def answerability(self) -> AnswerabilityModel:
        """Shared by both answerers: does what was retrieved answer the question (chat/answerability.py)."""
        from chat.answerability import AnswerabilityModel

        from chat.sentence_vectors import FILE_NAME, SentenceVectorStore

        s = self.settings
        store = SentenceVectorStore(Path(s.data_dir) / FILE_NAME, f"{s.embedding_model}|{s.embedding_backend}")
        self._sentence_store = store  # closed with the app
        return AnswerabilityModel(self.embedder, unk_threshold=s.unk_threshold, sentence_store=store)

    @functools.cached_property
    def extractive(self) -> ExtractiveAnswerer:
        from chat.extractive import ExtractiveAnswerer

        s = self.settings
        return ExtractiveAnswerer(
            max_sentences=s.answer_sentences, abstain_threshold=s.abstain_threshold, answerability=self.answerability
        )

    def term_stats(self, principals: Sequence[str]) -> StoreTermStats:
        """Corpus rarity of question terms, counted over what these principals may read."""
        from chat.answerability import StoreTermStats

        return StoreTermStats(self.store, self.retriever.sparse_encoder, principals)

    def chunking_config(self) -> ChunkingConfig:
        from ingest.chunking import ChunkingConfig

        s = self.settings
        return ChunkingConfig(
            chunk_tokens=s.chunk_tokens,
            overlap_tokens=s.chunk_overlap,
            min_tokens=s.chunk_min_tokens,
            encoding=s.tokenizer_encoding,
            max_model_tokens=self.embedder.max_seq_length,
            base_strategy=s.chunk_base_strategy,
            context_tokens=s.chunk_context_tokens,
        )

    @functools.cached_property
    def summarizer(self) -> Summarizer:
        from ingest.summarize import create_summarizer

        return create_summarizer(self.settings)

    def chunker(self, strategy: str | None = None):
        from ingest.chunking import create_chunker

        return create_chunker(
            strategy or self.settings.chunk_strategy,
            self.chunking_config(),
            model_pieces=self.embedder.count_word_pieces,
            summarizer=self.summarizer,
        )

    def pipeline(
        self,
        *,
        strategy: str | None = None,
        store: ChunkStore | None = None,
        on_progress: Callable[[IndexStats], None] | None = None,
    ) -> IndexPipeline:
        from ingest.pipeline import IndexPipeline

        return IndexPipeline(
            store or self.store,
            self.chunker(strategy),
            self.embedder,
            BM25Encoder(k1=self.settings.bm25_k1, b=self.settings.bm25_b),
            embed_batch=self.settings.index_embed_batch,
            embedding_model=self._embedding_label(),
            on_progress=on_progress,
            max_document_chars=int(self.settings.max_document_mb * 1_000_000),
        )

    def _embedding_label(self) -> str:
        """The model (and runtime, unless the reference PyTorch one) recorded in the index metadata."""
        s = self.settings
        return s.embedding_model if s.embedding_backend == "torch" else f"{s.embedding_model} ({s.embedding_backend})"

    # --- the re-index job ------------------------------------------------------------------
    def sources(self) -> list[IndexSource]:
        """Every configured source, as the re-index job runs them."""
        from ingest.connectors.checkpoints import CheckpointStore
        from ingest.connectors.registry import build_connectors, configured_sources
        from ingest.pipeline import IndexStats
        from ingest.reindex import IndexSource
        from ingest.sync import _without_unindexed

        s = self.settings
        sources = []
        if configured_sources(s):
            checkpoints = CheckpointStore.in_state_dir(s.state_dir)

            def commit(batch, failures) -> None:
                # As `kura sync` does: the ledger never claims a document the index did not take.
                checkpoints.commit(_without_unindexed(batch, IndexStats(failures=failures)))

            for connector in build_connectors(s, checkpoints, self.identity):
                sources.append(IndexSource(connector, after_batch=commit))
        for path in s.ingest_paths:
            files = files_connector(path, max_mb=s.max_document_mb)
            sources.append(IndexSource(files, scope=files.scope))
        if s.sample_corpus or (s.sample_corpus is None and not sources):
            sample = sample_connector()
            # The sample company's directory comes with its documents: who may read what.
            self.record_identities("sample", sample.identities(), sample.slack_aliases())
            sources.append(IndexSource(sample, infer_scope=True))
        return sources

    def generations(self) -> IndexGenerations:
        from ingest.generations import EdgeGenerations, ServerGenerations

        s = self.settings
        if s.qdrant_url:
            from qdrant_client import QdrantClient

            key = s.qdrant_api_key.get_secret_value() if s.qdrant_api_key else None
            client = QdrantClient(url=s.qdrant_url, api_key=key, timeout=30)
            return ServerGenerations(client, s.collection, IndexLayout.from_settings(s))
        return EdgeGenerations(s.index_dir, IndexLayout.from_settings(s))

    def reindex_job(self, *, on_progress: Callable[[IndexStats], None] | None = None) -> ReindexJob:
        from bots.regression import feedback_gate
        from ingest.reindex import ReindexJob

        s = self.settings
        return ReindexJob(
            self.generations(),
            self.sources(),
            self.pipeline,
            state_file=s.state_dir / "reindex-pending.json",
            default_strategy=s.chunk_strategy,
            min_share=s.reindex_min_share,
            on_progress=on_progress,
            quality_gate=feedback_gate(self),
        )

    def reindex_lock(self) -> ExitStack:
        """The re-index job's lock, and `kura sync`'s: both write the index and the connector checkpoints."""
        from ingest.job_lock import JobLock
        from ingest.sync import sync_lock

        locks = ExitStack()
        locks.enter_context(JobLock(self.settings.data_dir / "reindex.lock", "kura reindex"))
        try:
            locks.enter_context(sync_lock(self.settings.state_dir))
        except ConnectorError as exc:
            locks.close()
            raise JobLockedError(f"{exc}; kura reindex did nothing") from None
        return locks

    # --- jobs --------------------------------------------------------------------------
    def ingest(
        self,
        connector: Connector,
        *,
        full_scope: bool = True,
        strategy: str | None = None,
        on_progress: Callable[[IndexStats], None] | None = None,
    ) -> IndexStats:
        """Index everything a connector lists; with ``full_scope`` its documents no longer listed are removed."""
        from chat.rewrite import document_language

        pipeline = self.pipeline(strategy=strategy, on_progress=on_progress)
        scope: set[str] = set(getattr(connector, "scope", ()))
        family = getattr(connector, "scope_family", None)

        languages: set[str] = set()

        def batches():
            for batch in connector.load():
                if not getattr(connector, "scope", None):
                    scope.update(f"{d.source}:" for d in batch.documents)
                languages.update(document_language(d.text) for d in batch.documents)
                yield batch

        # The pipeline reads ``scope`` after the last batch, when it holds every id prefix this connector listed.
        stats = pipeline.index(batches(), full_scope=scope if full_scope else (),
                               scope_families=(family,) if family and full_scope else ())
        if hasattr(self.summarizer, "stats"):  # the LLM summarizer: its rejected replies belong in the job's result
            stats.summaries = self.summarizer.stats()
        if languages and self.store.exists():
            # What cross-language retrieval translates into (``index_languages``); only ever grows here.
            self.store.set_meta({"languages": sorted(languages | set(self.store.get_meta().get("languages") or ()))})
        self.store.flush()
        self._refresh_retriever()
        return stats

    def record_identities(self, source: str, grants: dict[str, Iterable[str]], aliases: dict[str, str] | None = None):
        self.identity.replace_grants(source, grants)
        for alias, email in (aliases or {}).items():
            self.identity.add_alias(alias, email)

    def _refresh_retriever(self) -> None:
        # The BM25 average length may have just been fixed by the first ingest.
        self._retriever = None

    # --- asking ------------------------------------------------------------------------
    def principals_for(self, email: str | None) -> tuple[str, ...]:
        return self.identity.principals_for(email)

    @functools.cached_property
    def llm(self) -> LLMAnswerer:
        from chat.llm_answerer import LLMAnswerer

        if not self.settings.llm_configured:
            raise ConfigError("the LLM answerer needs an endpoint: set KURA_LLM_BASE_URL (see chat/README.md)")
        return LLMAnswerer(self.settings, extractive=self.extractive)

    @functools.cached_property
    def rewriter(self) -> QueryRewriter:
        """Follow-up rewriting: with the LLM when one is configured (and enabled), by key terms otherwise."""
        from chat.rewrite import QueryRewriter

        s = self.settings
        if s.llm_configured and s.llm_rewrite_followups:
            from chat.llm_client import LLMClient
            from chat.prompts import load_prompt

            prompt = load_prompt("rewrite", s.llm_rewrite_prompt_version, s.llm_prompts_dir)
            # No retries: a failed rewrite falls back to key terms at once instead of delaying the answer.
            return QueryRewriter(client=LLMClient.from_settings(s, max_retries=0), prompt=prompt)
        return QueryRewriter()

    @functools.cached_property
    def cross_language(self) -> CrossLanguageRewriter | None:
        """The question in the index's other languages: LLM translation when one is set, else the term table."""
        from chat.rewrite import CrossLanguageRewriter

        s = self.settings
        if not s.cross_language:
            return None
        bridge = LazyTermBridge() if s.cross_language_offline else None
        if s.llm_configured:
            from chat.llm_client import LLMClient
            from chat.prompts import load_prompt

            prompt = load_prompt("translate", s.llm_translate_prompt_version, s.llm_prompts_dir)
            client = LLMClient.from_settings(s, max_retries=0)  # a failed translation falls back at once
            return CrossLanguageRewriter(client=client, prompt=prompt, bridge=bridge)
        return CrossLanguageRewriter(bridge=bridge) if bridge else None

    def index_languages(self) -> list[str]:
        """The documents' languages: the setting, else as ``ingest`` recorded them, else every one Kura reads."""
        declared = [lang.strip() for lang in self.settings.index_languages.split(",") if lang.strip()]
        if declared:
            return declared
        retriever = self.retriever  # read once per retriever: a new index (ingest, switch) gets a new one
        cached = getattr(self, "_languages", None)
        if cached is None or cached[0] is not retriever:
            recorded = self.store.get_meta().get("languages") if self.store.exists() else None
            # An index built by sync or a full re-index has no record: both languages may be there.
            cached = (retriever, list(recorded) if recorded else ["en", "ja"])
            self._languages = cached
        return cached[1]

    def with_cross_language(self, retriever, languages: Iterable[str] | None = None):
        """``retriever`` that also searches with the question's translations and fuses (as is when off).

        ``languages``: those of the indexed documents when the caller knows them (the eval runner does);
        a single one means there is nothing to translate into.
        """
        if languages is not None and len(set(languages)) < 2:
            return retriever
        rewriter = self.cross_language
        if rewriter is None:
            return retriever
        languages = None if languages is None else sorted(set(languages))
        return MultiQueryRetriever(retriever, lambda q: rewriter.queries(q, languages), rrf_k=self.settings.rrf_k)

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
        retriever = self.with_cross_language(self.retriever, self.index_languages())
        hits = retriever.retrieve(query, top_k=self.settings.top_k, principals=principals, mode=mode, sources=sources)
        timings = {"retrieve": (time.perf_counter() - t1) * 1000}
        if history:
            timings["rewrite"] = (t1 - t0) * 1000
            logger.info("follow-up rewritten for retrieval (%d chars)", len(query))
        return hits, timings

    @functools.cached_property
    def observer(self) -> AnswerObserver:
        """Counts every answer in the metrics and logs its trace line (bots/observe.py)."""
        return AnswerObserver.from_settings(self.settings)

    def ask(
        self,
        question: str,
        *,
        principals: Sequence[str],
        history: Sequence[tuple[str, str]] | None = None,
        answerer: str | None = None,
        mode: str | None = None,
        sources: Iterable[str] = (),
        surface: str = "cli",
        conversation_id: str | None = None,
    ) -> Answer:
        """Retrieve what these principals may read and answer from it.

        ``history`` is the conversation so far as (role, text) turns, role ``user`` or ``assistant``.
        ``surface`` and ``conversation_id`` only label the answer's metrics and trace.
        """
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        name = self.answerer_name(answerer)

        def answer_it() -> Answer:
            hits, timings = self._retrieve(question, principals, history, mode, sources)
            if name == "llm":
                answer = self.llm.answer(question, hits, history=history)
            else:
                answer = self.extractive.answer(question, hits, term_stats=self.term_stats(principals))
            answer.timings_ms.update(timings)
            return answer

        return self.observer.traced(answer_it, question=question, surface=surface, conversation_id=conversation_id,
                                    requested=name)

    def ask_stream(
        self,
        question: str,
        *,
        principals: Sequence[str],
        history: Sequence[tuple[str, str]] | None = None,
        answerer: str | None = None,
        mode: str | None = None,
        sources: Iterable[str] = (),
        surface: str = "cli",
        conversation_id: str | None = None,
    ) -> Iterator[str | Answer]:
        """Like ``ask``, but yields verified text deltas first; the last item is the Answer (authoritative)."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        name = self.answerer_name(answerer)

        def stream_it() -> Iterator[str | Answer]:
            hits, timings = self._retrieve(question, principals, history, mode, sources)
            if name == "llm":
                items = self.llm.stream(question, hits, history=history)
            else:
                answer = self.extractive.answer(question, hits, term_stats=self.term_stats(principals))
                items = iter([answer.text, answer])
            for item in items:
                if isinstance(item, Answer):
                    item.timings_ms.update(timings)
                yield item

        return self.observer.traced_stream(stream_it(), question=question, surface=surface,
                                           conversation_id=conversation_id, requested=name)

    def _close_retired(self) -> None:
        for _, store in self._retired:
            try:
                store.close()
            except Exception as exc:  # the re-index job removed its directory: nothing was written, nothing is lost
                logger.debug("closing a retired index: %s", exc)
        self._retired = []

    def close(self) -> None:
        self._close_retired()
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._sentence_store is not None:
            self._sentence_store.close()  # reopened on its next use, like the index

    def __enter__(self) -> "KuraApp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sample_connector():
    from ingest.connectors.sample import SampleConnector

    return SampleConnector()


def files_connector(path: Path, *, max_mb: float | None = None):
    from ingest.connectors.files import DEFAULT_MAX_BYTES, FilesConnector

    return FilesConnector(path, max_bytes=int(max_mb * 1_000_000) if max_mb else DEFAULT_MAX_BYTES)
