"""The embedding model on a compiled CPU runtime (OpenVINO or onnxruntime): the default, same interface as PyTorch's.

``KURA_EMBEDDING_BACKEND`` selects it (default ``openvino-int8``; ``torch`` is
the reference and fallback). The model is exported once per machine, model,
backend and library versions into the user cache (embedder_export.py); this
module only loads it, with its runtime and the ``tokenizers`` library: no
torch, transformers or sentence-transformers on the query path, which is what
makes a cold ``kura ask`` fast.

Tokenization, mean pooling and L2 normalisation match sentence-transformers,
so vectors are interchangeable with the PyTorch backend's up to the runtime's
arithmetic (int8 is an approximation: bench/embedding_quality.py measures
retrieval quality against fp32).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from retrieval.embedder import DEFAULT_MODEL, resolve_model_path, unreadable_share
from retrieval.embedder_export import ensure_exported
from retrieval.model_tokenizer import ModelTokenizer, pad_batch

logger = logging.getLogger(__name__)


class CompiledEmbedder:
    """Embeds with an exported copy of the model; loads (and exports, the first time on a machine) lazily."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        backend: str,
        cache_dir: Path,
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
        threads: int = 0,
        calibration_texts: Callable[[], Sequence[str]] | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_name = model
        self.backend = backend
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.threads = threads or os.cpu_count() or 1
        self.calibration_texts = calibration_texts
        self.announce = announce
        self._lock = threading.Lock()
        self._run: Callable[[list[dict]], list[np.ndarray]] | None = None
        self._tokenizer: ModelTokenizer | None = None
        self._tokenizer_lock = threading.Lock()
        self._start_one: Callable[[dict], Callable[[], np.ndarray]] | None = None  # OpenVINO: a query's async start
        self._query_lock = threading.Lock()  # held while start_query's inference runs
        self._shares: OrderedDict[str, float] = OrderedDict()  # unknown_share per text, least recently used first
        self._shares_lock = threading.Lock()
        self.model_file: Path | None = None
        self.calls = 0  # embed_documents calls, as SentenceTransformerEmbedder counts them
        self.texts_embedded = 0
        self.padding_share = 0.0  # padded positions / all positions of the last embed call (bucketing's effect)

    # --- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Load the model now (the tokenizer first), exporting it the first time on this machine."""
        self._load()

    def _load_tokenizer(self) -> ModelTokenizer:
        """The tokenizer alone: counting pieces and ``unknown_share`` need no model, so they need not wait for its
        compile (a cold ask searches by BM25 and loads its term tables meanwhile)."""
        if self._tokenizer is None:
            with self._tokenizer_lock:
                if self._tokenizer is None:
                    path = self._model_path()
                    self._tokenizer = ModelTokenizer(path, _max_seq_length(Path(path)))
        return self._tokenizer

    def _model_path(self) -> str:
        path = resolve_model_path(self.model_name)
        if not Path(path).is_dir():
            raise ConfigError(f"KURA_EMBEDDING_BACKEND={self.backend} needs a local model folder, "
                              f"not {self.model_name!r} (or set KURA_EMBEDDING_BACKEND=torch)")
        return path

    def _load(self) -> Callable[[list[dict]], list[np.ndarray]]:
        if self._run is not None:
            # Without the lock once loaded: the lock is held for a whole inference, and the chunker counts
            # word-pieces in another thread meanwhile (the pipeline overlaps them; counting is thread-safe).
            return self._run
        self._load_tokenizer()
        with self._lock:
            if self._run is None:
                texts = self.calibration_texts if self.backend == "openvino-int8" else None
                self.model_file = ensure_exported(self.cache_dir, self._model_path(), self.backend, texts,
                                                  announce=self.announce)
                self._run = self._session(self.model_file)
                logger.info("loaded embedding model %s on %s", self.model_name, self.backend)
        return self._run

    def _session(self, model_file: Path) -> Callable[[list[dict]], list[np.ndarray]]:
        """A function from input batches to their last hidden states, in order."""
        if self.backend.startswith("openvino"):
            ov = openvino_runtime()
            # Two inference streams of half the threads each, fed batches asynchronously: on 2 cores this ran
            # ~1.3x faster than one request with both threads, and ~2x faster than one THROUGHPUT request.
            streams = max(1, min(2, self.threads))
            config = {"INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "THROUGHPUT",
                      "NUM_STREAMS": streams,
                      # OpenVINO keeps the compiled blob here: later processes skip compilation (cold start).
                      "CACHE_DIR": str(model_file.parent / "compiled")}
            if self.backend == "openvino":
                config["INFERENCE_PRECISION_HINT"] = "f32"  # it picks bf16 on CPUs that have it otherwise
            compiled = ov.Core().compile_model(str(model_file), "CPU", config)
            queue = ov.AsyncInferQueue(compiled, streams)
            query_request = compiled.create_infer_request()  # start_query's own: it runs beside the queue

            def start_one(feed: dict) -> Callable[[], np.ndarray]:
                query_request.start_async(feed)  # returns at once; the runtime's threads compute without the GIL

                def wait() -> np.ndarray:
                    query_request.wait()
                    return query_request.get_output_tensor(0).data.copy()

                return wait

            self._start_one = start_one

            def run_openvino(feeds: list[dict]) -> list[np.ndarray]:
                results: list[np.ndarray | None] = [None] * len(feeds)

                def done(request, index: int) -> None:
                    results[index] = request.get_output_tensor(0).data.copy()

                queue.set_callback(done)
                for index, feed in enumerate(feeds):
                    queue.start_async(feed, index)
                queue.wait_all()
                return results

            return run_openvino
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        return lambda feeds: [session.run(None, feed)[0] for feed in feeds]

    # --- the Embedder interface ---------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return int(self._encode(["dimension probe"]).shape[1])

    @property
    def max_seq_length(self) -> int:
        return self._load_tokenizer().max_length

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + text])[0]

    def count_word_pieces(self, text: str) -> int:
        return self._load_tokenizer().count(text)

    def count_word_pieces_many(self, texts: Sequence[str]) -> list[int]:
        return self._load_tokenizer().count_many(texts)

    def word_piece_map(self, text: str):
        """Counts of the text's spans from one encoding (``retrieval.word_pieces.PieceMap``), or None."""
        return self._load_tokenizer().piece_map(text)

    @property
    def word_pieces_add_up(self) -> bool:
        """Whether ``count(a + "\\n" + b) == count(a) + count(b) - 2`` holds (retrieval.word_pieces)."""
        return self._load_tokenizer().pieces_add_up

    def unknown_share(self, text: str) -> float:
        """Share of the text's pieces the model cannot read (``unreadable_share``), remembered per text.

        The answerability check asks it for every candidate sentence of every answer (~45 per ask, ~0.15 ms
        each), and a serving process sees the same chunks' sentences again and again.
        """
        with self._shares_lock:
            share = self._shares.get(text)
            if share is not None:
                self._shares.move_to_end(text)
                return share
        share = unreadable_share(self._load_tokenizer(), text)
        with self._shares_lock:
            self._shares[text] = share
            if len(self._shares) > _SHARES_KEPT:
                self._shares.popitem(last=False)
        return share

    def start_query(self, text: str) -> Callable[[], np.ndarray]:
        """Start embedding a query on the runtime's own threads and return at once; calling the result waits for
        the vector, the very one ``embed_query`` gives (the same single-text batch on the same compiled model).

        The retriever searches by BM25 meanwhile (``HybridRetriever.retrieve_many``). A Python thread would not
        do: the index engine holds the GIL through a whole search, so the thread could not even start the
        inference. Before the model is loaded (another thread may be loading it), without an asynchronous
        runtime (onnxruntime), or while another query's is still running, the vector is computed when asked for. Call the result once, always: until then no other query starts.
        """
        start_one = self._start_one  # None until loaded: a cold ask searches by BM25 while the model loads
        if start_one is None or not self._query_lock.acquire(blocking=False):
            return lambda: self.embed_query(text)
        try:
            ids = self._tokenizer.encode([self.query_prefix + text])
            feed = pad_batch(ids, self._tokenizer.pad_id)
            wait = start_one(feed)
        except BaseException:
            self._query_lock.release()
            raise
        vector: list[np.ndarray] = []

        def result() -> np.ndarray:
            if not vector:
                try:
                    hidden = wait()
                finally:
                    self._query_lock.release()
                vector.append(_pooled([feed], [hidden], np.zeros(1, dtype=np.int64))[0])
            return vector[0]

        return result

    # --- inference ------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> np.ndarray:
        run = self._load()
        ids = self._tokenizer.encode(texts)
        # Length buckets: sorted by word-piece count, each batch is padded only to its own longest member,
        # so a batch of short chunks does not pay for a long one.
        order = np.argsort([-len(i) for i in ids], kind="stable")
        feeds = [pad_batch([ids[i] for i in order[start : start + self.batch_size]], self._tokenizer.pad_id)
                 for start in range(0, len(texts), self.batch_size)]
        real = sum(len(i) for i in ids)
        self.padding_share = 1.0 - real / max(1, sum(f["input_ids"].size for f in feeds))
        with self._lock:  # one inference queue per model: callers in several threads take turns
            hidden_states = run(feeds)
        return _pooled(feeds, hidden_states, order)


def _pooled(feeds: list[dict], hidden_states: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """Mean pooling over the real tokens and L2 normalisation (as sentence-transformers), back in input order."""
    vectors = []
    for feed, hidden in zip(feeds, hidden_states):
        mask = feed["attention_mask"][..., None].astype(np.float32)
        vectors.append((hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None))
    out = np.concatenate(vectors).astype(np.float32)
    out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
    result = np.empty_like(out)
    result[order] = out
    return result


def openvino_runtime():
    """The ``openvino`` package, imported without its model-conversion tools (``openvino.tools.ovc``).

    Running an exported model needs only the runtime. ``import openvino`` also imports the conversion tools,
    which on every import send a usage event to Google Analytics from a forked process (openvino-telemetry,
    on unless the user opted out in ~/intel): ~0.1-0.2 s of CPU of each cold ask, a process and a thread,
    and a request no document-search query should make. ``openvino/__init__`` imports the tools in a
    ``try: ... except ImportError``, and a ``None`` in ``sys.modules`` makes that import fail, so they are left
    out. Only the first import of ``openvino`` in a process decides; the export (``embedder_export``) imports
    the tools itself afterwards when it needs them.
    """
    if "openvino" not in sys.modules:
        with _OPENVINO_IMPORT:
            if "openvino" not in sys.modules:
                blocked = sys.modules.setdefault(_CONVERSION_TOOLS, None) is None
                try:
                    import openvino  # noqa: F401
                finally:
                    if blocked and sys.modules.get(_CONVERSION_TOOLS, False) is None:
                        del sys.modules[_CONVERSION_TOOLS]
    import openvino

    return openvino


_SHARES_KEPT = 20_000  # texts whose unknown_share is remembered (a few MB)
_CONVERSION_TOOLS = "openvino.tools.ovc"
_OPENVINO_IMPORT = threading.Lock()


def _max_seq_length(model_dir: Path) -> int:
    """sentence-transformers' input limit for this model (256 for MiniLM), where embedding truncates."""
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))
    return 256
