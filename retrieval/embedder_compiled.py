"""The embedding model on a faster CPU runtime (onnxruntime or OpenVINO), same interface as the PyTorch one.

``KURA_EMBEDDING_BACKEND=onnx|onnx-int8|openvino|openvino-int8`` selects it;
the model is exported once into the cache directory (embedder_export.py).
Tokenization, mean pooling and L2 normalisation match sentence-transformers,
so vectors are interchangeable with the PyTorch backend's up to the runtime's
arithmetic (int8 backends are approximations: measure retrieval quality before
making one the default, see bench/embedding_quality.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from retrieval.embedder import DEFAULT_MODEL, resolve_model_path, unreadable_share
from retrieval.embedder_export import INPUTS, ensure_exported

logger = logging.getLogger(__name__)


class CompiledEmbedder:
    """Embeds with an exported copy of the model; loads (and exports, the first time) lazily."""

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
        self._lock = threading.Lock()
        self._run: Callable[[list[dict]], list[np.ndarray]] | None = None
        self._tokenizer = None
        self._counter = None
        self._max_seq_length = 256
        self.calls = 0  # embed_documents calls, as SentenceTransformerEmbedder counts them
        self.texts_embedded = 0

    # --- loading ---------------------------------------------------------------------------
    def _load(self):
        with self._lock:
            if self._run is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from tokenizers import Tokenizer
                from transformers import AutoTokenizer

                path = resolve_model_path(self.model_name)
                if not Path(path).is_dir():
                    raise ConfigError(f"KURA_EMBEDDING_BACKEND={self.backend} needs a local model folder, "
                                      f"not {self.model_name!r}")
                texts = self.calibration_texts() if self.calibration_texts and self.backend == "openvino-int8" else ()
                model_file = ensure_exported(self.cache_dir, path, self.backend, texts)
                self._tokenizer = AutoTokenizer.from_pretrained(path)
                # A private copy of the fast tokenizer for counting: chunking counts word-pieces of every
                # candidate window, and the wrapper's per-call overhead was ~60% of ingest time outside inference.
                # (A copy, because batch encoding leaves truncation switched on in the shared one.)
                self._counter = Tokenizer.from_str(self._tokenizer.backend_tokenizer.to_str())
                self._counter.no_truncation()
                self._counter.no_padding()
                config = Path(path) / "sentence_bert_config.json"
                if config.exists():
                    self._max_seq_length = int(json.loads(config.read_text()).get("max_seq_length", 256))
                self._run = self._session(model_file)
                logger.info("loaded embedding model %s on %s", self.model_name, self.backend)
        return self._run

    def _session(self, model_file: Path) -> Callable[[list[dict]], list[np.ndarray]]:
        """A function from input batches to their last hidden states, in order."""
        if self.backend.startswith("openvino"):
            import openvino as ov

            # Two inference streams of half the threads each, fed batches asynchronously: on 2 cores this ran
            # ~1.3x faster than one request with both threads, and ~2x faster than one THROUGHPUT request.
            streams = max(1, min(2, self.threads))
            config = {"INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "THROUGHPUT",
                      "NUM_STREAMS": streams}
            if self.backend == "openvino":
                config["INFERENCE_PRECISION_HINT"] = "f32"  # it picks bf16 on CPUs that have it otherwise
            compiled = ov.Core().compile_model(str(model_file), "CPU", config)
            queue = ov.AsyncInferQueue(compiled, streams)

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
        self._load()
        return self._max_seq_length

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + text])[0]

    def count_word_pieces(self, text: str) -> int:
        self._load()
        return len(self._counter.encode(text, add_special_tokens=True).ids)

    def unknown_share(self, text: str) -> float:
        self._load()
        return unreadable_share(self._tokenizer, text)

    # --- inference ------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> np.ndarray:
        run = self._load()
        # Similar lengths batched together waste less on padding (sentence-transformers sorts the same way).
        order = np.argsort([-len(t) for t in texts], kind="stable")
        feeds = []
        for start in range(0, len(texts), self.batch_size):
            batch = [texts[i] for i in order[start : start + self.batch_size]]
            encoded = self._tokenizer(batch, padding=True, truncation=True, max_length=self._max_seq_length,
                                      return_tensors="np")
            feeds.append({name: encoded[name].astype(np.int64) for name in INPUTS})
        vectors = []
        with self._lock:  # one inference queue per model: callers in several threads take turns
            hidden_states = run(feeds)
        for feed, hidden in zip(feeds, hidden_states):
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vectors.append((hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None))
        out = np.concatenate(vectors).astype(np.float32)
        out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        result = np.empty_like(out)
        result[order] = out
        return result
