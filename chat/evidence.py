"""How well a piece of text covers a question's content terms: the shared evidence measure.

Used to pick answer sentences, and to decide to abstain: when even the best
retrieved chunk covers little of the question, the documents do not answer it.
(Measured on the sample corpus's 30 questions: chunk-level coverage separated
answerable from unanswerable questions better than the best sentence's
coverage did; 0.30 answered all 26 answerable ones and declined 7 of 9
unanswerable ones. ``kura eval`` measures it on larger sets.)
Terms are BM25 tokens (Sudachi for Japanese) minus question words, weighted by
their rarity among the candidate sentences so "policy" counts less than "VPN".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from retrieval.tokenize import tokenize

QUESTION_WORDS = frozenset(
    "what when where which who whom whose why how does do did can could should would is are was were many much "
    "i we you my our your me us there any please tell about".split()
    + ["何", "いつ", "どこ", "誰", "どれ", "どの", "どう", "どんな", "なぜ", "何故", "幾ら", "いくら", "幾つ", "いくつ", "為る", "有る", "居る", "成る", "言う", "下さる", "教える"]
)


def question_terms(question: str) -> list[str]:
    """The question's content terms, in order, without duplicates."""
    seen: dict[str, None] = {}
    for term in tokenize(question):
        if term not in QUESTION_WORDS:
            seen.setdefault(term, None)
    return list(seen)


def term_weights(terms: Sequence[str], candidates: Sequence[set[str]]) -> dict[str, float]:
    """Rarer terms weigh more: idf over the candidate texts (smoothed so unseen terms still count)."""
    n = len(candidates)
    df = Counter(t for c in candidates for t in set(terms) & c)
    return {t: math.log(1 + (n + 1) / (df[t] + 0.5)) for t in terms}


def coverage(terms: Sequence[str], weights: dict[str, float], text_terms: set[str]) -> float:
    """Weighted share of the question's terms present in a text: 0..1."""
    total = sum(weights[t] for t in terms)
    if total == 0:
        return 0.0
    return sum(weights[t] for t in terms if t in text_terms) / total


def evidence(question: str, chunks: Sequence) -> float:
    """0..1: the best retrieved chunk's weighted coverage of the question's terms (title and headings included)."""
    terms = question_terms(question)
    if not terms or not chunks:
        return 0.0
    chunk_terms = [set(tokenize(c.chunk.index_text)) for c in chunks]
    weights = term_weights(terms, chunk_terms)
    return max(coverage(terms, weights, t) for t in chunk_terms)
