"""Groundedness of answers: is each answer sentence supported by what it cites, and by anything retrieved?

For every answer sentence a ``SupportScorer`` (offline or the LLM judge) scores

- the sentence against the sources it cites together (``cited``),
- the sentence against all retrieved chunks (``any``),
- the sentence against each cited source alone (for citation precision).

A score at or above the scorer's threshold counts as supported. Per answer:
the supported fraction (mean over sentences) and whether all sentences are
supported (strict). Over a run: their means, citation precision (share of
sentence -> source citations whose source alone supports the sentence) and
citation recall (share of supported sentences that carry a citation).
Abstentions have no claims and are left out of those figures; they are judged
on their own (``assess_abstention``): an abstention is justified when no gold
answer is supported by the retrieved text, and the run's abstain quality is
the justified share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.protocols import SupportScorer
from core.types import Answer, Chunk
from eval.metrics import mean


GROUNDEDNESS_METRICS = (
    "groundedness", "groundedness_strict", "groundedness_any_source", "citation_precision", "citation_recall",
)  # fmt: skip


@dataclass(frozen=True)
class SentenceSupport:
    """How one answer sentence fared against its citations and against all retrieved text."""

    text: str
    citations: tuple[int, ...]
    cited_score: float  # 0 when the sentence cites nothing
    any_score: float
    citation_supports: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerSupport:
    """Groundedness of one answer."""

    sentences: tuple[SentenceSupport, ...]
    threshold: float

    def _supported(self, score: float) -> bool:
        return score >= self.threshold

    @property
    def supported_fraction(self) -> float | None:
        if not self.sentences:
            return None
        return sum(self._supported(s.cited_score) for s in self.sentences) / len(self.sentences)

    @property
    def supported_fraction_any(self) -> float | None:
        if not self.sentences:
            return None
        return sum(self._supported(s.any_score) for s in self.sentences) / len(self.sentences)

    @property
    def all_supported(self) -> float | None:
        fraction = self.supported_fraction
        return None if fraction is None else float(fraction == 1.0)

    def citation_pairs(self) -> list[bool]:
        return [ok for s in self.sentences for ok in s.citation_supports.values()]

    def supported_sentences_cited(self) -> list[bool]:
        return [bool(s.citations) for s in self.sentences if self._supported(s.any_score)]

    def to_dict(self) -> dict:
        return {
            "supported_fraction": self.supported_fraction,
            "all_supported": self.all_supported,
            "sentences": [
                {"text": s.text, "citations": list(s.citations), "cited": round(s.cited_score, 4), "any": round(s.any_score, 4)}
                for s in self.sentences
            ],
        }


def source_texts(answer: Answer, chunks: Sequence[Chunk]) -> dict[int, str]:
    """Source number -> the full text of its chunk (the snippet when the chunk is not among those retrieved)."""
    by_id = {c.id: c.text for c in chunks}
    by_id.update({sc.chunk.id: sc.chunk.text for sc in answer.retrieved})
    return {s.number: by_id.get(s.chunk_id, s.snippet) for s in answer.sources}


def assess_answer(answer: Answer, chunks: Sequence[Chunk], scorer: SupportScorer, threshold: float) -> AnswerSupport:
    """Score every sentence of an answer against its cited sources, each of them, and all retrieved text."""
    if answer.abstained:
        return AnswerSupport((), threshold)
    texts = source_texts(answer, chunks)
    retrieved = [c.text for c in chunks] or list(texts.values())
    sentences = []
    for sentence in answer.sentences:
        if not sentence.text.strip():
            continue
        cited = [n for n in sentence.citations if n in texts]
        cited_score = scorer.score(sentence.text, [texts[n] for n in cited]) if cited else 0.0
        if len(cited) == 1:
            per_source = {cited[0]: cited_score >= threshold}
        else:
            per_source = {n: scorer.score(sentence.text, [texts[n]]) >= threshold for n in cited}
        # Invalid citation numbers (no such source) are citations that support nothing.
        per_source.update({n: False for n in sentence.citations if n not in texts})
        any_score = scorer.score(sentence.text, retrieved)
        sentences.append(SentenceSupport(sentence.text, tuple(sentence.citations), cited_score, any_score, per_source))
    return AnswerSupport(tuple(sentences), threshold)


def summarize(assessments: Sequence[AnswerSupport]) -> dict[str, float | None]:
    """Run-level groundedness figures from per-answer assessments (None where nothing could be measured)."""
    answered = [a for a in assessments if a.sentences]
    pairs = [ok for a in answered for ok in a.citation_pairs()]
    cited_when_supported = [ok for a in answered for ok in a.supported_sentences_cited()]
    return {
        "groundedness": mean([a.supported_fraction for a in answered]),
        "groundedness_strict": mean([a.all_supported for a in answered]),
        "groundedness_any_source": mean([a.supported_fraction_any for a in answered]),
        "citation_precision": (sum(pairs) / len(pairs)) if pairs else None,
        "citation_recall": (sum(cited_when_supported) / len(cited_when_supported)) if cited_when_supported else None,
    }


def assess_abstention(
    question: str, golds: Sequence[str], answerable: bool, chunks: Sequence[Chunk], scorer: SupportScorer,
    threshold: float,
) -> float | None:
    """1.0 when abstaining was right (the retrieved text supports no gold answer), 0.0 when an answer was there.

    An unanswerable question's abstention is right by its label. An answerable one is judged by asking the
    scorer whether the retrieved chunks support "question: gold answer"; None when there is no gold to ask about.
    """
    if not answerable:
        return 1.0
    golds = [g for g in golds if g and g.strip()]
    texts = [c.text for c in chunks if c.text.strip()]
    if not golds:
        return None
    if not texts:
        return 1.0  # nothing was retrieved: there was nothing to answer from
    best = max(scorer.score(f"{question.strip()} {gold.strip()}", texts) for gold in golds[:3])
    return float(best < threshold)
