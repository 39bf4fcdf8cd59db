"""The offline answerer: quotes the retrieved sentences that best answer the question, each with its citation.

Grounded by construction: every answer sentence is a sentence of a cited
source, verbatim. The answerability model (``chat/answerability.py``) decides
whether the retrieved chunks answer the question at all (below its threshold
the answer says the documents do not, and lists the closest documents) and
ranks their sentences: meaning where the embedder reads the language, synonyms,
the expected answer type, never a sentence that addresses the assistant. The
best sentence comes first; sources are numbered per document.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from chat.answerability import AnswerabilityModel, SentenceCandidate, TermStats
from retrieval.tokenize import has_japanese
from core.types import Answer, AnswerSentence, ScoredChunk, Source

NOT_FOUND_EN = "I could not find this in the documents you can access."
NOT_FOUND_JA = "アクセスできる文書の中に、この質問への答えは見つかりませんでした。"
_SNIPPET_CHARS = 280


def not_found_text(question: str) -> str:
    return NOT_FOUND_JA if has_japanese(question) else NOT_FOUND_EN


def snippet(text: str, around: str = "", limit: int = _SNIPPET_CHARS) -> str:
    """A short excerpt of ``text``, centred on ``around`` when given."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    at = text.find(" ".join(around.split())) if around else -1
    start = max(0, at - limit // 4) if at >= 0 else 0
    if 0 < start and text[start - 1] != " ":
        # Start on a word boundary where the text has spaces; Japanese has none, so any character will do.
        space = text.find(" ", start, at if at > start else start + 40)
        start = space + 1 if space >= 0 else start
    piece = text[start : start + limit]
    return ("…" if start > 0 else "") + piece + ("…" if start + limit < len(text) else "")


def closest_sources(chunks: Sequence[ScoredChunk], limit: int = 3) -> tuple[Source, ...]:
    """The top distinct documents, numbered, for a not-found answer."""
    sources: list[Source] = []
    seen: set[str] = set()
    for hit in chunks:
        c = hit.chunk
        if c.document_id in seen:
            continue
        seen.add(c.document_id)
        sources.append(Source(len(sources) + 1, c.document_id, c.id, c.title, c.url, snippet(c.text), c.source))
        if len(sources) == limit:
            break
    return tuple(sources)


class ExtractiveAnswerer:
    """Answers with the best sentences of the retrieved chunks, citing each; abstains when they do not answer."""

    name = "extractive"

    def __init__(
        self,
        *,
        max_sentences: int = 3,
        abstain_threshold: float | None = None,
        relative_cutoff: float = 0.5,
        answerability: AnswerabilityModel | None = None,
    ):
        if max_sentences < 1 or not (abstain_threshold is None or 0 <= abstain_threshold <= 1):
            raise ValueError("max_sentences must be >= 1 and abstain_threshold in [0, 1]")
        self.max_sentences = max_sentences
        self.abstain_threshold = abstain_threshold  # None: the model's fitted threshold
        self.relative_cutoff = relative_cutoff
        self.answerability = answerability or AnswerabilityModel()

    def choose(self, ranked: Sequence[SentenceCandidate], expected_type: str = "") -> list[SentenceCandidate]:
        """The best sentence, the next that covers the question about as well, and the one sharing most words.

        When the question expects a date, amount, count or name, the sentences that hold one go first
        (among those covering the question about as well as the best does): the answer is in them. The last of
        ``max_sentences`` places goes to the sentence sharing most of the question's words (holding the type
        counts as a third of them), wherever the model ranks it: the model's order favours the best chunks, and
        a paraphrase's answer may sit lower. Measured on public sets (session 8): answer-contains on JSQuAD test
        articles 0.868 -> 0.910, SQuAD 2.0 test articles 0.833 -> 0.841, decisions unchanged.
        """
        if not ranked:
            return []
        floor = ranked[0].features["coverage"] * self.relative_cutoff
        close = [c for i, c in enumerate(ranked) if i == 0 or c.features["coverage"] >= floor]
        if expected_type:
            # Stable: model order within each group. A sentence holding fewer of the question's names and numbers
            # than the best one (another office, another version) is never moved ahead for its type.
            held = ranked[0].features.get("specific", 1.0)
            close.sort(key=lambda c: (c.features.get("specific", 1.0) < held, not c.features["type"]))
        chosen: list[SentenceCandidate] = []
        seen: list[str] = []

        def add(cand: SentenceCandidate) -> bool:
            key = " ".join(cand.sentence.split()).lower()
            if any(key == other or other.endswith(key) or key.endswith(other) for other in seen):
                return False  # the same sentence, or a question's reply quoted with or without its question
            seen.append(key)
            chosen.append(cand)
            return True

        by_model = max(1, self.max_sentences - 1)  # the model's best always leads
        for cand in close:
            if add(cand) and len(chosen) == by_model:
                break
        if len(chosen) == self.max_sentences:
            return chosen

        # The last place goes to the sentence that shares most of the question's words (holding the type asked for
        # counts as a third of them): the model's order favours the best chunks, and a paraphrase's answer may sit
        # lower. One of another document comes in only when it holds the type asked for or shares as many words as
        # the best chosen one: a page cited for a few shared words would be noise.
        def words(c: SentenceCandidate) -> float:
            return c.features["coverage"] + 0.3 * c.features["type"]

        cited = {c.chunk.chunk.document_id for c in chosen}
        most = max((c.features["coverage"] for c in chosen), default=0.0)
        fits = [c for c in sorted(ranked, key=words, reverse=True)
                if c.chunk.chunk.document_id in cited or (expected_type and c.features["type"])
                or c.features["coverage"] >= most]
        for cand in [*fits, *close]:
            if add(cand):
                break
        return chosen

    def answer(self, question: str, chunks: Sequence[ScoredChunk], *, term_stats: TermStats | None = None) -> Answer:
        started = time.perf_counter()
        verdict = self.answerability.assess(question, chunks, term_stats=term_stats, gate=False)  # no LLM to gate
        if not verdict.candidates or not verdict.answerable(self.abstain_threshold):
            return self.not_found(question, chunks, started, probability=verdict.probability)
        chosen = self.choose(verdict.candidates, verdict.expected_type)
        # One number per document, in the order its first (best) sentence appears; the answering sentence first.
        numbers: dict[str, int] = {}
        best_of: dict[str, SentenceCandidate] = {}
        for cand in chosen:
            doc = cand.chunk.chunk.document_id
            if doc not in numbers:
                numbers[doc] = len(numbers) + 1
                best_of[doc] = cand
        sentences = tuple(
            AnswerSentence(c.sentence, (numbers[c.chunk.chunk.document_id],), support=1.0, supported=True) for c in chosen
        )
        sources = []
        for doc, number in numbers.items():
            cand = best_of[doc]
            c = cand.chunk.chunk
            sources.append(Source(number, c.document_id, c.id, c.title, c.url, snippet(c.text, cand.sentence), c.source))
        joiner = "" if has_japanese(question) else " "
        text = joiner.join(f"{s.text} [{s.citations[0]}]" for s in sentences)
        return Answer(
            question=question,
            text=text,
            sentences=sentences,
            sources=tuple(sources),
            abstained=False,
            answerer=self.name,
            retrieved=tuple(chunks),
            timings_ms={"answer": (time.perf_counter() - started) * 1000},
            answerability=verdict.probability,
        )

    def not_found(
        self, question: str, chunks: Sequence[ScoredChunk], started: float | None = None, probability: float | None = None
    ) -> Answer:
        started = started or time.perf_counter()
        return Answer(
            question=question,
            text=not_found_text(question),
            sentences=(),
            sources=closest_sources(chunks),
            abstained=True,
            answerer=self.name,
            retrieved=tuple(chunks),
            timings_ms={"answer": (time.perf_counter() - started) * 1000},
            answerability=probability,
        )
