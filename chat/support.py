"""Offline support scoring: does a source text back up a claim? (0 = not at all .. 1 = fully).

Shared by the LLM answerer (to flag unsupported answer sentences) and the eval
module (groundedness). It needs no LLM, so it runs everywhere and is
deterministic:

* lexical support — which of the claim's content terms (BM25 tokenizer, light
  English stemming) occur in the cited sources, and whether the claim's
  polarity (negated or not) matches the source sentence that fits it best;
* optional dense support — the best cosine similarity between the claim and a
  source, when an embedder is passed in;
* these combine into one score through weights fitted on labelled NLI data
  (``chat/support_model.py``); 0.5 is the balanced decision point;
* hard checks — every number (dates and times included) in the claim must occur
  in a source sentence that shares at least ``number_context_terms`` of the
  claim's words (so "12" somewhere else in a long page does not back up "12
  days"), and every capitalised name in the claim must occur in the sources.
  A claim that invents a figure or a name is unsupported however many ordinary
  words it shares, so a failed hard check caps the score at ``hard_check_cap``
  (0 by default). E-mail addresses and URLs are checked the same way: an answer
  that sends people to an address its sources do not contain is unsupported.

The interface is ``core.protocols.SupportScorer``: ``score(claim, sources)``.
``check`` returns the parts behind a score, for debugging and for eval reports.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chat.support_model import DENSE_MODEL, LEXICAL_MODEL, SupportModel, negated
from core.protocols import Embedder
from retrieval.tokenize import tokenize

# "[3]" / "[1, 2]" citation markers are not part of the claim.
_CITATION = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
# Numbers: 42, 3.5, 1,000, 14:30 (one each), 2024-05-01 (each digit group separately).
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
# Source sentences, for checking that a figure occurs in the context the claim puts it in.
_SOURCE_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
# A capitalised word (Latin script): "Qdrant", "McKinsey", "VPN", "O'Brien".
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z0-9'’\-]*[A-Za-z0-9]|\b[A-Z]\b")
# Contact details: e-mail addresses and URLs must appear in the sources exactly.
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://[^\s<>()\[\]\"'|]+")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[\"'“(]\s*)$")

# Capitalised words that are ordinary words in English text, not names.
_NOT_NAMES = frozenset(
    """
    a an and are as at be but by can do does for from has have he her his how i if in is it its may me my no not
    of on or our she should so that the their then there these they this those to us was we were what when where
    which who why will with would yes you your please note also however otherwise see each every all any some
    according
    """.split()
)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _stem(term: str) -> str:
    """Very light English stemming so 'requests'/'requested' meet 'request'; other scripts pass through."""
    if not term.isascii() or len(term) <= 4:
        return term
    for suffix in ("ing", "ed", "es", "s"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 4 and not term.endswith("ss"):
            return term[: -len(suffix)]
    return term


@functools.lru_cache(maxsize=50_000)
def content_terms(text: str) -> frozenset[str]:
    """The stemmed BM25 terms of a text (citation markers removed).

    Cached: the answerer and eval score many claims against the same source
    sentences, and Sudachi tokenization is most of a check's cost.
    """
    return frozenset(_stem(t) for t in tokenize(_CITATION.sub(" ", text)))


def numbers_in(text: str) -> set[str]:
    """Numbers in a text, thousands separators removed ('1,000' and '1000' are the same figure)."""
    found = set()
    for match in _NUMBER.findall(_normalise(_CITATION.sub(" ", text))):
        value = match.replace(",", "")
        found.add(value.rstrip(".") or value)
    return found


def addresses_in(text: str) -> set[str]:
    """E-mail addresses and URLs in a text, lowercased, trailing punctuation removed."""
    return {a.lower().rstrip(".,;:!?/") for a in _ADDRESS.findall(_normalise(text))}


def names_in(text: str) -> set[str]:
    """Capitalised words that look like names (ordinary words at a sentence start are skipped), lowercased."""
    text = _normalise(_CITATION.sub(" ", text))
    names = set()
    for match in _CAPITALISED.finditer(text):
        word = match.group(0)
        if word.lower() in _NOT_NAMES:
            continue
        # A sentence's first word is capitalised anyway ("Employees must ..."), so there only
        # acronyms (VPN, HR) count as names.
        at_start = _SENTENCE_START.search(text[: match.start()]) is not None
        if at_start and not (len(word) > 1 and word.isupper()):
            continue
        names.add(word.lower())
    return names


@dataclass(frozen=True)
class SupportCheck:
    """The parts behind a support score."""

    score: float
    lexical: float
    dense: float | None
    missing_terms: tuple[str, ...]
    missing_numbers: tuple[str, ...]
    missing_names: tuple[str, ...]
    missing_addresses: tuple[str, ...] = ()
    negation_mismatch: bool = False
    claim_terms: int = 0

    @property
    def hard_checks_passed(self) -> bool:
        return not self.missing_numbers and not self.missing_names and not self.missing_addresses


class OfflineSupportScorer:
    """Scores claim support from term overlap, polarity, optional embeddings and number/name checks."""

    name = "offline-support-v2"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        model: SupportModel | None = None,
        hard_check_cap: float = 0.0,
        number_context_terms: int = 2,
    ) -> None:
        if not 0.0 <= hard_check_cap <= 1.0:
            raise ValueError("hard_check_cap must be between 0 and 1")
        self.embedder = embedder
        self.model = model or (DENSE_MODEL if embedder is not None else LEXICAL_MODEL)
        self.hard_check_cap = hard_check_cap
        self.number_context_terms = number_context_terms
        self._vectors: dict[str, np.ndarray] = {}  # text -> embedding: eval scores the same chunks many times

    def score(self, claim: str, sources: Sequence[str]) -> float:
        """How well ``sources`` together support ``claim``, 0..1."""
        return self.check(claim, sources).score

    def check(self, claim: str, sources: Sequence[str]) -> SupportCheck:
        """Score a claim and say what is missing from the sources."""
        sources = [s for s in sources if s and s.strip()]
        claim_terms = content_terms(claim)
        if not sources or not claim_terms:
            # Nothing to check against, or a claim with no content words ("Yes.") supports nothing.
            return SupportCheck(0.0, 0.0, None, tuple(sorted(claim_terms)), (), (), claim_terms=len(claim_terms))

        joined = "\n".join(sources)
        source_terms = frozenset().union(*(content_terms(s) for s in sources))
        missing_terms = sorted(claim_terms - source_terms)
        lexical = 1.0 - len(missing_terms) / len(claim_terms)

        missing_numbers = self._missing_numbers(claim, claim_terms, sources)
        source_text = _normalise(joined).lower()
        missing_names = sorted(
            name for name in names_in(claim) if name not in source_text and _stem(name) not in source_terms
        )

        missing_addresses = sorted(a for a in addresses_in(claim) if a not in source_text)

        dense = self._dense(claim, sources) if self.embedder is not None else None
        mismatch = negated(_CITATION.sub(" ", claim)) != negated(self._best_sentence(claim_terms, sources))
        score = self.model.score(
            missing_terms=len(missing_terms), claim_terms=len(claim_terms), negation_mismatch=mismatch, dense=dense
        )
        if missing_numbers or missing_names or missing_addresses:
            score = min(score, self.hard_check_cap)
        return SupportCheck(
            score=float(min(1.0, max(0.0, score))),
            lexical=lexical,
            dense=dense,
            missing_terms=tuple(missing_terms),
            missing_numbers=tuple(missing_numbers),
            missing_names=tuple(missing_names),
            missing_addresses=tuple(missing_addresses),
            negation_mismatch=mismatch,
            claim_terms=len(claim_terms),
        )

    @staticmethod
    def _best_sentence(claim_terms: set[str], sources: Sequence[str]) -> str:
        """The source sentence sharing most of the claim's terms: where the claim's polarity is compared."""
        sentences = [s for source in sources for s in _SOURCE_SENTENCE.split(source) if s.strip()]
        return max(sentences, key=lambda s: len(content_terms(s) & claim_terms), default="")

    def _missing_numbers(self, claim: str, claim_terms: set[str], sources: Sequence[str]) -> list[str]:
        """The claim's numbers that no source sentence sharing enough of the claim's words contains."""
        numbers = numbers_in(claim)
        if not numbers:
            return []
        words = {t for t in claim_terms if not any(ch.isdigit() for ch in t)}
        need = min(self.number_context_terms, len(words))
        found: set[str] = set()
        for source in sources:
            for sentence in _SOURCE_SENTENCE.split(source):
                present = numbers & numbers_in(sentence)
                if present - found and len(content_terms(sentence) & words) >= need:
                    found |= present
        return sorted(numbers - found)

    def _dense(self, claim: str, sources: Sequence[str]) -> float:
        """Best cosine similarity between the claim and any one source, clipped to 0..1."""
        query = np.asarray(self.embedder.embed_query(_CITATION.sub(" ", claim)), dtype=np.float32)
        new = [s for s in dict.fromkeys(sources) if s not in self._vectors]
        if new:
            if len(self._vectors) > 20000:
                self._vectors.clear()  # bounded memory; a cache miss only costs an embedding
            self._vectors.update(zip(new, np.asarray(self.embedder.embed_documents(new), dtype=np.float32)))
        docs = np.stack([self._vectors[s] for s in sources])
        query = query / (np.linalg.norm(query) or 1.0)
        norms = np.linalg.norm(docs, axis=1, keepdims=True)
        docs = docs / np.where(norms == 0, 1.0, norms)
        return float(max(0.0, min(1.0, float(np.max(docs @ query)))))
