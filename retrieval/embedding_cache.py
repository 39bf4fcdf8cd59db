"""Never embed the same passage twice: a content-hash cache in front of any embedder.

Company documents repeat themselves (footers, disclaimers, templates, a page
copied into two spaces), and a changed document usually keeps most of its
chunks' text. Vectors are kept per text hash in a bounded LRU, across
documents and batches, for the life of the process (a re-index, a `kura
serve` that ingests); a batch's duplicates are embedded once. Only passage
embeddings are looked up here; a query's vector is kept as its passage vector
when the two are embedded alike (``embed_query``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


class CachedEmbedder:
    """Wraps an embedder; ``embed_documents`` embeds only texts it has not seen, everything else passes through."""

    def __init__(self, inner, *, capacity: int = 20_000) -> None:
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.inner = inner
        self.capacity = capacity
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0
        self.texts_embedded = 0  # texts the model actually embedded
        self.cache_hits = 0

    def __getattr__(self, name: str):
        # dimension, max_seq_length, embed_query, count_word_pieces, unknown_share, backend, ...
        return getattr(self.inner, name)

    def embed_query(self, text: str) -> np.ndarray:
        """The inner embedder's, also kept as the passage vector of ``text`` when the model embeds queries and
        passages alike (no prefixes, as MiniLM): the answerability check embeds the question as a passage right
        after retrieval embedded it as a query, and the two are the same computation (a batch of one)."""
        vector = self.inner.embed_query(text)
        self._keep_query(text, vector)
        return vector

    def start_query(self, text: str):
        """``embed_query`` started now and finished when the result is called (``CompiledEmbedder.start_query``;
        an embedder without it computes the vector when asked for). The vector is kept as ``embed_query``'s is."""
        start = getattr(self.inner, "start_query", None)
        pending = start(text) if start is not None else (lambda: self.inner.embed_query(text))

        def result() -> np.ndarray:
            vector = pending()
            self._keep_query(text, vector)
            return vector

        return result

    def _keep_query(self, text: str, vector: np.ndarray) -> None:
        if getattr(self.inner, "query_prefix", "") == getattr(self.inner, "passage_prefix", "") and self.capacity:
            with self._lock:
                self._vectors[_key(text)] = np.asarray(vector, dtype=np.float32)
                self._vectors.move_to_end(_key(text))
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if not texts:
            return self.inner.embed_documents([])
        keys = [_key(t) for t in texts]
        with self._lock:
            found = {k: self._vectors[k] for k in set(keys) if k in self._vectors}
            for k in found:
                self._vectors.move_to_end(k)
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts):
            if key not in found and key not in missing:
                missing[key] = text
        if missing:
            fresh = self.inner.embed_documents(list(missing.values()))
            self.texts_embedded += len(missing)
            found.update(zip(missing, fresh))
            with self._lock:
                for key, vector in zip(missing, fresh):
                    self._vectors[key] = vector
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        self.cache_hits += len(texts) - len(missing)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
