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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import ConfigError


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
        self._counter = Tokenizer.from_file(str(path))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._encoder = Tokenizer.from_file(str(path))
        self._encoder.no_padding()
        self._encoder.enable_truncation(max_length)
        self.unk_token = _special_tokens(folder).get("unk_token", "[UNK]")
        self.pad_id = self._counter.token_to_id(_special_tokens(folder).get("pad_token", "[PAD]")) or 0

    def tokenize(self, text: str) -> list[str]:
        """The text's word-pieces without special tokens (what ``AutoTokenizer.tokenize`` returns)."""
        return self._counter.encode(text, add_special_tokens=False).tokens

    def count(self, text: str) -> int:
        """Word-pieces including the special tokens, never truncated."""
        return len(self._counter.encode(text, add_special_tokens=True).ids)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's input ids, truncated at ``max_length`` and not padded: the caller groups them by length."""
        return [np.asarray(e.ids, dtype=np.int64) for e in self._encoder.encode_batch(list(texts))]


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
