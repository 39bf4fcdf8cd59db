"""BM25 as Qdrant sparse vectors.

Qdrant's IDF modifier multiplies each matching term's weight by the corpus IDF
at query time, so the index keeps only the per-chunk term-frequency part

    w(t, d) = tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

and a query is its terms with weight = occurrences. The dot product is then
BM25 (Qdrant's IDF is ln(1 + (N - n + 0.5) / (n + 0.5)), as in Lucene).

Term ids are a stable hash of the term (first 4 bytes of blake2b), so every
process and machine maps a term to the same id without a shared vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Iterable

from core.store import SparseVector
from retrieval.tokenize import tokenize


@functools.lru_cache(maxsize=1 << 16)  # a re-index hashes each chunk's ~55 terms; most are common (~6 MB when full)
def term_id(term: str) -> int:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _to_sparse(weights: dict[int, float]) -> SparseVector:
    items = sorted(weights.items())
    return SparseVector(indices=tuple(i for i, _ in items), values=tuple(v for _, v in items))


class BM25Encoder:
    """Turns texts into BM25 sparse vectors; ``avg_len`` is the corpus's average document length in terms."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, avg_len: float = 100.0) -> None:
        if k1 < 0 or not 0 <= b <= 1 or avg_len <= 0:
            raise ValueError(f"bad BM25 parameters k1={k1} b={b} avg_len={avg_len}")
        self.k1, self.b, self.avg_len = k1, b, avg_len

    def encode_document(self, text: str) -> SparseVector:
        return self.encode_terms(tokenize(text))

    def encode_terms(self, terms: list[str]) -> SparseVector:
        counts = Counter(terms)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            tid = term_id(term)
            # Two terms hashing to one id (rare at 31 bits) simply add up.
            weights[tid] = weights.get(tid, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return _to_sparse(weights)

    def term_count(self, text: str) -> int:
        return len(tokenize(text))

    def with_avg_len(self, avg_len: float) -> "BM25Encoder":
        return BM25Encoder(k1=self.k1, b=self.b, avg_len=avg_len)

    def encode_query(self, text: str) -> SparseVector:
        weights: dict[int, float] = {}
        for term, n in Counter(tokenize(text)).items():
            tid = term_id(term)
            weights[tid] = weights.get(tid, 0.0) + float(n)
        return _to_sparse(weights)


def average_length(texts: Iterable[str]) -> float:
    lengths = [len(tokenize(t)) for t in texts]
    return max(1.0, sum(lengths) / len(lengths)) if lengths else 100.0
