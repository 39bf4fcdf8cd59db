"""The embedding model's word-piece tokenizer, read from its ``tokenizer.json`` with the ``tokenizers`` library alone.

The compiled backends must not import transformers (a second of import time,
and torch with it on some paths), so this loads the same fast tokenizer that
``AutoTokenizer`` wraps and offers the three things Kura needs: count pieces,
list pieces (for ``unreadable_share``), and encode batches for the model.
``tokenizer.json`` files often carry a fixed padding and truncation of their
own (MiniLM's pads and cuts at 128); both are switched off here and applied
per batch instead, as sentence-transformers does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from retrieval.word_pieces import PieceMap, continuation_ids, pieces_add_up


class ModelTokenizer:
    """Word-pieces of a local model folder; ``max_length`` is where embedding truncates (counting never does)."""

    def __init__(self, model_dir: Path | str, max_length: int) -> None:
        from tokenizers import Tokenizer

        folder = Path(model_dir)
        path = folder / "tokenizer.json"
        if not path.exists():
            raise ConfigError(f"the compiled embedding backends need {path} (a fast tokenizer); "
                              "use KURA_EMBEDDING_BACKEND=torch for this model")
        self.max_length = max_length
        self._path = path
        # Never truncates, never pads, never changed after this: several threads may use it at once (the pipeline
        # counts pieces while another thread embeds).
        self._untruncated = Tokenizer.from_file(str(path))
        self._untruncated.no_truncation()
        self._untruncated.no_padding()
        # Whether counts add up across a joining newline (see retrieval.word_pieces): read from the file itself.
        self.pieces_add_up = pieces_add_up(path.read_text(encoding="utf-8"))
        self._continues: np.ndarray | None = None  # built at the first piece_map (chunking only)
        # The truncating copy is parsed only for the first text over ``max_length``: parsing tokenizer.json
        # costs ~60 ms of a cold ask, whose short texts never need it.
        self._truncating = None
        self._truncating_lock = threading.Lock()
        specials = _special_tokens(folder)
        self.unk_token = specials.get("unk_token", "[UNK]")
        self.pad_id = self._untruncated.token_to_id(specials.get("pad_token", "[PAD]")) or 0

    def tokenize(self, text: str) -> list[str]:
        """The text's word-pieces without special tokens (what ``AutoTokenizer.tokenize`` returns)."""
        return self._untruncated.encode(text, add_special_tokens=False).tokens

    def count(self, text: str) -> int:
        """Word-pieces including the special tokens, never truncated."""
        return len(self._untruncated.encode(text, add_special_tokens=True).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """``count`` of each text, in one call into the tokenizer."""
        return [len(e.ids) for e in self._untruncated.encode_batch(list(texts), add_special_tokens=True)]

    def piece_map(self, text: str) -> PieceMap | None:
        """Counts of the text's spans from one encoding (``retrieval.word_pieces``); None for other tokenizers."""
        if not self.pieces_add_up:
            return None
        if self._continues is None:
            self._continues = continuation_ids(self._untruncated.get_vocab())
        encoding = self._untruncated.encode(text, add_special_tokens=False)
        return PieceMap(text, encoding.ids, encoding.offsets, self._continues)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's input ids, truncated at ``max_length`` and not padded: the caller groups them by length."""
        encodings = self._untruncated.encode_batch(list(texts))
        long = [i for i, e in enumerate(encodings) if len(e.ids) > self.max_length]
        if long:  # cut where the tokenizer's own truncation cuts (the special tokens kept), so ids are the same
            for i, e in zip(long, self._truncating_tokenizer().encode_batch([texts[i] for i in long])):
                encodings[i] = e
        return [np.asarray(e.ids, dtype=np.int64) for e in encodings]

    def _truncating_tokenizer(self):
        with self._truncating_lock:
            if self._truncating is None:
                from tokenizers import Tokenizer

                truncating = Tokenizer.from_file(str(self._path))
                truncating.no_padding()
                truncating.enable_truncation(self.max_length)
                self._truncating = truncating
            return self._truncating


def pad_batch(ids: Sequence[np.ndarray], pad_id: int) -> dict[str, np.ndarray]:
    """Model inputs for one batch, padded to its longest member only."""
    width = max(len(i) for i in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}


def _special_tokens(folder: Path) -> dict[str, str]:
    path = folder / "special_tokens_map.json"
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    # Values are either the token or {"content": token, ...}.
    return {k: (v["content"] if isinstance(v, dict) else v) for k, v in raw.items() if isinstance(v, (str, dict))}
