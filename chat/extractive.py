"""The offline answerer: quotes the retrieved sentences that best answer the question, each with its citation.

Grounded by construction: every answer sentence is a sentence of a cited
source, verbatim. When even the best chunk covers too little of the question
(``chat.evidence.evidence`` below ``abstain_threshold``), it says the documents
do not answer it and lists the closest documents instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from chat.evidence import coverage, evidence, question_terms, term_weights
from chat.injection import looks_like_instruction
from chat.sentences import split_sentences
from retrieval.tokenize import has_japanese, tokenize
from core.types import Answer, AnswerSentence, ScoredChunk, Source

NOT_FOUND_EN = "I could not find this in the documents you can access."
NOT_FOUND_JA = "アクセスできる文書の中に、この質問への答えは見つかりませんでした。"
_CONTEXT_SHARE = 0.2  # how much the title/heading around a sentence counts towards its score
_RANK_PRIOR = 0.05  # a small preference for sentences from higher-ranked chunks
_SNIPPET_CHARS = 280


@dataclass(frozen=True)
class _Candidate:
    sentence: str
    chunk: ScoredChunk
    rank: int
    position: int
    score: float
    coverage: float


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
    """Answers with the best-matching sentences of the retrieved chunks, citing each."""

    name = "extractive"

    def __init__(self, *, max_sentences: int = 3, abstain_threshold: float = 0.30, relative_cutoff: float = 0.5):
        if max_sentences < 1 or not 0 <= abstain_threshold <= 1:
            raise ValueError("max_sentences must be >= 1 and abstain_threshold in [0, 1]")
        self.max_sentences = max_sentences
        self.abstain_threshold = abstain_threshold
        self.relative_cutoff = relative_cutoff

    def rank_sentences(self, question: str, chunks: Sequence[ScoredChunk]) -> list[_Candidate]:
        """Every sentence of the chunks, best first, scored by weighted coverage of the question's terms."""
        terms = question_terms(question)
        if not terms:
            return []
        raw: list[tuple[str, ScoredChunk, int, int, set[str], set[str]]] = []
        for rank, hit in enumerate(chunks):
            context = set(tokenize(" ".join([hit.chunk.title, *hit.chunk.heading_path])))
            for position, sentence in enumerate(split_sentences(hit.chunk.text)):
                if looks_like_instruction(sentence):  # document text is data: never present an order as the answer
                    continue
                words = set(tokenize(sentence))
                raw.append((sentence, hit, rank, position, words, words | context))
        weights = term_weights(terms, [r[4] for r in raw])
        candidates = []
        for sentence, hit, rank, position, words, with_context in raw:
            own = coverage(terms, weights, words)
            score = (1 - _CONTEXT_SHARE) * own + _CONTEXT_SHARE * coverage(terms, weights, with_context)
            candidates.append(_Candidate(sentence, hit, rank, position, score + _RANK_PRIOR / (rank + 1), score))
        candidates.sort(key=lambda c: c.score, reverse=True)
        return candidates

    def answer(self, question: str, chunks: Sequence[ScoredChunk]) -> Answer:
        started = time.perf_counter()
        if evidence(question, chunks) < self.abstain_threshold:
            return self.not_found(question, chunks, started)
        ranked = self.rank_sentences(question, chunks)
        best = max((c.coverage for c in ranked), default=0.0)
        chosen: list[_Candidate] = []
        seen_text: set[str] = set()
        for cand in ranked:
            key = " ".join(cand.sentence.split()).lower()
            if key in seen_text or cand.coverage < best * self.relative_cutoff:
                continue
            seen_text.add(key)
            chosen.append(cand)
            if len(chosen) == self.max_sentences:
                break
        if not chosen:  # every sentence that matched was an order to the reader: nothing answers
            return self.not_found(question, chunks, started)
        # Number sources by their best sentence's rank; read sentences in document order within a source.
        numbers: dict[str, int] = {}
        for cand in chosen:
            numbers.setdefault(cand.chunk.chunk.id, len(numbers) + 1)
        chosen.sort(key=lambda c: (numbers[c.chunk.chunk.id], c.position))
        sentences = tuple(
            AnswerSentence(c.sentence, (numbers[c.chunk.chunk.id],), support=1.0, supported=True) for c in chosen
        )
        sources = []
        for chunk_id, number in numbers.items():
            cand = next(c for c in chosen if c.chunk.chunk.id == chunk_id)
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
        )

    def not_found(self, question: str, chunks: Sequence[ScoredChunk], started: float | None = None) -> Answer:
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
        )
