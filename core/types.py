"""Data types that flow through Kura, named after their stage.

connectors -> Document -> Chunk -> (index) -> ScoredChunk -> Answer

All are frozen dataclasses: a value that left a stage is never mutated by the
next one. Ids are derived from source identity and content, so re-ingesting the
same thing upserts instead of duplicating.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

PUBLIC = "public"

# A fixed namespace so chunk UUIDs are stable across machines and runs.
_CHUNK_NAMESPACE = uuid.UUID("6f1c2d1e-8a55-4b7e-9a0c-3b1f0c6d2a11")


def content_hash(text: str) -> str:
    """Short, stable fingerprint of a piece of text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Section:
    """One structural unit of a document: a heading's body, a table, a list, a code block or a chat message.

    ``heading_path`` is the breadcrumb of headings above the section (outermost
    first). ``kind`` lets structure-aware chunkers keep tables, lists, code and
    messages whole where they can.
    """

    text: str
    heading_path: tuple[str, ...] = ()
    kind: str = "text"  # text | table | list | code | message


@dataclass(frozen=True)
class Document:
    """A source document as a connector emits it."""

    source: str  # "confluence", "gdocs", "slack", "sample", "files"
    source_id: str  # the id the source uses (page id, file id, channel/thread ts)
    title: str
    sections: tuple[Section, ...]
    url: str = ""
    author: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    principals: tuple[str, ...] = (PUBLIC,)
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        """Globally unique, stable document id: ``source:source_id``."""
        return f"{self.source}:{self.source_id}"

    @property
    def text(self) -> str:
        """The whole text, sections separated by blank lines."""
        return "\n\n".join(s.text for s in self.sections if s.text.strip())

    @property
    def content_hash(self) -> str:
        """Fingerprint of everything that affects the index (text, title, structure, access)."""
        parts = [self.title, self.url, "|".join(sorted(self.principals))]
        parts += [f"{'/'.join(s.heading_path)}\x1f{s.kind}\x1f{s.text}" for s in self.sections]
        return content_hash("\x1e".join(parts))


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that is embedded and indexed on its own.

    ``text`` is what the user is shown and cited; ``index_text`` is what is
    embedded and BM25-tokenized (it may carry a title or context prefix).
    """

    document_id: str
    ordinal: int
    text: str
    index_text: str
    heading_path: tuple[str, ...]
    token_count: int
    strategy: str
    principals: tuple[str, ...]
    title: str
    url: str
    source: str
    document_hash: str = ""
    start_char: int = -1  # offset of ``text`` in Document.text, -1 when not a span of it
    updated_at: str = ""

    @cached_property  # a write computes it twice a chunk (point id and payload): ~25 s of a 1M build
    def id(self) -> str:
        """Deterministic UUID from document id, ordinal and content: what Qdrant stores as the point id."""
        key = f"{self.document_id}\x1f{self.ordinal}\x1f{content_hash(self.index_text)}"
        return str(uuid.uuid5(_CHUNK_NAMESPACE, key))


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk returned by a retriever, with its fused score and the part scores where known."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    sparse_score: float | None = None


@dataclass(frozen=True)
class Source:
    """A numbered source shown under an answer."""

    number: int
    document_id: str
    chunk_id: str
    title: str
    url: str
    snippet: str
    source: str = ""


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer with the source numbers it cites and its support score."""

    text: str
    citations: tuple[int, ...]
    support: float | None = None  # 0..1 from the support scorer, None when not scored
    supported: bool | None = None


@dataclass(frozen=True)
class Answer:
    """What an answerer returns: the text, its sentences with citations, and the numbered sources."""

    question: str
    text: str
    sentences: tuple[AnswerSentence, ...]
    sources: tuple[Source, ...]
    abstained: bool
    answerer: str
    retrieved: tuple[ScoredChunk, ...] = ()
    prompt_version: str = ""
    model: str = ""
    notice: str = ""  # e.g. "The LLM was unavailable; this is an extractive answer."
    answerability: float | None = None  # chat/answerability.py's probability that the chunks answer the question
    timings_ms: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    # What verification changed (LLM answers): citations_removed, sentences_unverified, sentences_dropped.
    checks: dict[str, int] = field(default_factory=dict, hash=False, compare=False)

    @property
    def cited_sources(self) -> tuple[Source, ...]:
        cited = {n for s in self.sentences for n in s.citations}
        return tuple(s for s in self.sources if s.number in cited)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the CLI's ``--json`` and the web API."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "answerer": self.answerer,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "notice": self.notice,
            "answerability": self.answerability,
            "sentences": [
                {"text": s.text, "citations": list(s.citations), "support": s.support, "supported": s.supported}
                for s in self.sentences
            ],
            "sources": [
                {
                    "number": s.number,
                    "title": s.title,
                    "url": s.url,
                    "document_id": s.document_id,
                    "chunk_id": s.chunk_id,
                    "snippet": s.snippet,
                    "source": s.source,
                }
                for s in self.sources
            ],
            "timings_ms": dict(self.timings_ms),
        }
