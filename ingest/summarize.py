"""Document summaries for the ``contextual`` and ``summary`` chunking strategies.

One interface, two implementations:

- ``LLMSummarizer`` (ingest/summarize_llm.py): a short summary from any
  OpenAI-compatible endpoint, with a versioned prompt file, bounded output and a
  content-hash cache, so an unchanged document is never summarised twice;
- ``ExtractiveSummarizer`` (here): offline, the document's most central
  sentences, where centrality is how much a sentence's terms overlap with the
  other sentences' (degree centrality of the TextRank sentence graph). It costs
  milliseconds and needs nothing beyond the text.

``signature`` names everything that changes a summary's text (summarizer kind,
model, prompt version, length), so the chunkers that embed summaries put it in
their own signature and a new summarizer re-chunks the corpus.
"""

from __future__ import annotations

import math
import re
from typing import Protocol

from core.settings import Settings
from core.tokens import get_encoding
from core.types import Document


class Summarizer(Protocol):
    """Turns a document into a short summary (plain text, possibly empty for an empty document)."""

    signature: str

    def summarize(self, document: Document) -> str: ...


# A sentence ends at 。！？!? or at ". " before a capital, digit or non-Latin character, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[。！？!?])[」』）)\]\"']*\s*|(?<=[.])\s+(?=[A-Z0-9\"'(\[\u3040-\u9fff])|\n+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HIRAGANA_ONLY = re.compile(r"[\u3040-\u309f]+")
_BULLET = re.compile(r"^\s*(?:[-*+•・]|\d+[.)])\s+")
# Common English words overlap between any two sentences and say nothing about centrality.
_STOP = frozenset(
    "a an and are as at be by can do for from has have if in into is it its may must not of on or our so that the "
    "their then there these this to was we were what when which will with you your".split()
)
_MIN_TERMS = 4
# Text addressed to AI systems is never what a document is about; a summary is copied into every chunk's
# context prefix, so such a sentence must not be amplified there.
_INJECTION = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) instructions|\b(?:AI|LLM) (?:assistant|model)s?\b"
    r"|system prompt|(?:以前|前|上記)の指示を無視",
    re.IGNORECASE,
)
_LEAD_BONUS = 0.3
# "Author (2026-02-17 02:41): " (bold or not) opening a Slack message in the sample and Slack connectors' text.
_MESSAGE_HEADER = re.compile(r"(?m)^(?:\*\*)?[^*()\n]+?(?:\*\*)?\s*\(\d{4}-\d\d-\d\d[^)\n]*\):\s*")
# Long sentence-less text (logs, tables without punctuation) is cut into pseudo-sentences of this many characters.
_MAX_SENTENCE_CHARS = 300


def split_sentences(text: str) -> list[str]:
    """Sentences of English or Japanese text; overlong ones are cut so no single 'sentence' is a whole document."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text):
        part = _BULLET.sub("", part.strip())
        while len(part) > _MAX_SENTENCE_CHARS:
            cut = part.rfind(" ", 0, _MAX_SENTENCE_CHARS)
            cut = cut if cut > _MAX_SENTENCE_CHARS // 2 else _MAX_SENTENCE_CHARS
            out.append(part[:cut].strip())
            part = part[cut:].strip()
        if part:
            out.append(part)
    return out


def candidate_sentences(document: Document) -> list[str]:
    """Sentences a summary may quote: prose, lists and messages first; tables and code only when nothing else.

    Table rows repeat their headers, which makes them look central to an
    overlap measure while saying little about what the document is for.
    """
    prose = [s for s in document.sections if s.kind not in ("table", "code") and s.text.strip()]
    sentences = []
    for section in prose or document.sections:
        text = _MESSAGE_HEADER.sub("", section.text) if section.kind == "message" else section.text
        sentences.extend(s for s in split_sentences(text) if not _INJECTION.search(s))
    return sentences


def sentence_terms(sentence: str) -> frozenset[str]:
    """Content terms of a sentence: English words minus stop words, and character bigrams of Japanese runs.

    Bigrams stand in for Japanese words here: they need no dictionary, and
    overlap of bigrams tracks overlap of words well enough to rank sentences.
    """
    lowered = sentence.lower()
    terms = {w for w in _LATIN_WORD.findall(lowered) if w not in _STOP and len(w) > 1}
    for run in _CJK_RUN.findall(sentence):
        bigrams = (run[i : i + 2] for i in range(max(1, len(run) - 1)))
        # All-hiragana bigrams are mostly inflections and particles (です, ます, して): they link every sentence.
        terms.update(b for b in bigrams if not _HIRAGANA_ONLY.fullmatch(b))
    return frozenset(terms)


class ExtractiveSummarizer:
    """The document's most central sentences, in document order, within a token budget."""

    def __init__(self, *, max_sentences: int = 3, max_tokens: int = 120, encoding: str = "cl100k_base",
                 max_candidates: int = 150) -> None:
        if max_sentences < 1 or max_tokens < 8:
            raise ValueError("an extractive summary needs at least 1 sentence and 8 tokens")
        self.max_sentences = max_sentences
        self.max_tokens = max_tokens
        self.max_candidates = max_candidates  # bounds the quadratic sentence graph on long documents
        self._encoding = get_encoding(encoding)
        self.signature = f"extractive/{max_sentences}/{max_tokens}/{encoding}"

    def summarize(self, document: Document) -> str:
        sentences = candidate_sentences(document)[: self.max_candidates]
        if not sentences:
            return ""
        ranked = self._rank(sentences)
        chosen: list[int] = []
        used = 0
        for i in ranked:
            cost = self._tokens(sentences[i])
            if len(chosen) >= self.max_sentences:
                break
            if used + cost > self.max_tokens:
                continue
            chosen.append(i)
            used += cost
        if not chosen:  # even the most central sentence is over budget: keep its beginning
            return self._truncate(sentences[ranked[0]])
        return " ".join(sentences[i] for i in sorted(chosen))

    def _rank(self, sentences: list[str]) -> list[int]:
        """Sentence indexes, most central first; ties go to the earlier sentence (leads tend to summarise)."""
        terms = [sentence_terms(s) for s in sentences]
        scores = [0.0] * len(sentences)
        for i in range(len(sentences)):
            if len(terms[i]) < _MIN_TERMS:
                continue  # fragments ("Yes.", "年に2回までです。") are never the summary
            for j in range(i + 1, len(sentences)):
                if len(terms[j]) < _MIN_TERMS:
                    continue
                shared = len(terms[i] & terms[j])
                if shared:
                    # TextRank's similarity: shared terms, normalised by sentence lengths.
                    weight = shared / (math.log(len(terms[i])) + math.log(len(terms[j])) + 1e-9)
                    scores[i] += weight
                    scores[j] += weight
        top = max(scores) or 1.0
        # A small lead bonus: documents tend to open with what they are about.
        ranked = [scores[k] / top + _LEAD_BONUS / (1 + k) for k in range(len(sentences))]
        return sorted(range(len(sentences)), key=lambda k: (-ranked[k], k))

    def _tokens(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))

    def _truncate(self, text: str) -> str:
        ids = self._encoding.encode(text, disallowed_special=())[: self.max_tokens]
        return self._encoding.decode(ids).strip()


def create_summarizer(settings: Settings) -> Summarizer:
    """The configured summarizer: the LLM one where an endpoint is configured (KURA_SUMMARIZER=auto), else extractive."""
    extractive = ExtractiveSummarizer(
        max_sentences=settings.summary_sentences,
        max_tokens=settings.summary_max_tokens,
        encoding=settings.tokenizer_encoding,
    )
    kind = settings.summarizer
    if kind == "extractive" or (kind == "auto" and not settings.llm_configured):
        return extractive
    from core.errors import ConfigError
    from ingest.summarize_llm import LLMSummarizer

    if not settings.llm_configured:
        raise ConfigError("KURA_SUMMARIZER=llm needs an endpoint: set KURA_LLM_BASE_URL")
    return LLMSummarizer.from_settings(settings)
