"""The prompt's context: as many top chunks as fit the model, grouped per document and quoted as data.

Budget: the model's context window minus the answer budget (``max_tokens``) minus
what the prompt itself takes (system text, question, template), counted with the
model's tiktoken encoding. Chunks are taken greedily in rank order; one that does
not fit is skipped so a smaller, lower-ranked chunk can still use the room.

Chunks of the same document are merged into one numbered document in reading
order (``Chunk.ordinal``), with overlapping text between neighbours removed and
"..." marking gaps. Documents are numbered by their best chunk's rank, so [1] is
the most relevant.

Each document is rendered as a ``<document id="n" ...>`` block. Any
``<document`` / ``</document`` inside the title or text is escaped so a document
cannot close its own block and pose as instructions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.tokens import encoding_for_model
from core.types import ScoredChunk, Source

_DELIMITER = re.compile(r"<(\s*/?\s*document)", re.IGNORECASE)
_GAP = "\n...\n"
SNIPPET_CHARS = 240


def escape_document_text(text: str) -> str:
    """Neutralise anything that looks like our document delimiter."""
    return _DELIMITER.sub(r"&lt;\1", text)


def _attribute(value: str) -> str:
    return html.escape(" ".join(value.split()), quote=True)


@dataclass(frozen=True)
class ContextDocument:
    """One numbered source in the prompt: a document's selected chunks in reading order."""

    number: int
    chunks: tuple[ScoredChunk, ...]  # reading order
    best: ScoredChunk  # the best-ranked chunk: its id and snippet represent the source

    @property
    def document_id(self) -> str:
        return self.best.chunk.document_id

    @property
    def text(self) -> str:
        """The merged text of the selected chunks, overlaps removed, gaps marked."""
        return merge_chunk_texts(self.chunks)

    def to_source(self, number: int | None = None) -> Source:
        chunk = self.best.chunk
        snippet = " ".join(chunk.text.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
        return Source(
            number=self.number if number is None else number,
            document_id=chunk.document_id,
            chunk_id=chunk.id,
            title=chunk.title,
            url=chunk.url,
            snippet=snippet,
            source=chunk.source,
        )

    def render(self) -> str:
        """The document as a delimited, escaped block for the prompt."""
        chunk = self.best.chunk
        attrs = f'id="{self.number}" title="{_attribute(chunk.title)}" source="{_attribute(chunk.source)}"'
        if chunk.updated_at:
            attrs += f' updated="{_attribute(chunk.updated_at)}"'
        return f"<document {attrs}>\n{escape_document_text(self.text)}\n</document>"


def merge_chunk_texts(chunks: Sequence[ScoredChunk]) -> str:
    """Join chunks of one document in reading order, dropping text two neighbours share."""
    parts: list[str] = []
    previous = None
    for scored in chunks:
        chunk = scored.chunk
        text = chunk.text
        if previous is not None:
            adjacent = chunk.ordinal == previous.ordinal + 1
            separator = "\n" if adjacent else _GAP
            if adjacent and previous.start_char >= 0 and chunk.start_char >= 0:
                # Both are spans of the document text: continue exactly where the previous one ended.
                overlap = previous.start_char + len(previous.text) - chunk.start_char
                if 0 <= overlap < len(text):
                    text, separator = text[overlap:], ""
            parts.append(separator)
        parts.append(text)
        previous = chunk
    return "".join(parts).strip()


class ContextBuilder:
    """Selects and groups chunks to fit a model's context window."""

    def __init__(self, *, model: str, context_tokens: int, answer_tokens: int) -> None:
        if answer_tokens >= context_tokens:
            raise ValueError("the answer budget must be smaller than the context window")
        self.encoding = encoding_for_model(model)
        self.context_tokens = context_tokens
        self.answer_tokens = answer_tokens

    def count(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=()))

    def budget(self, prompt_tokens: int) -> int:
        """Tokens left for documents once the answer and the rest of the prompt are reserved."""
        return self.context_tokens - self.answer_tokens - prompt_tokens

    def build(self, chunks: Sequence[ScoredChunk], *, prompt_tokens: int = 0) -> list[ContextDocument]:
        """The numbered documents for the prompt, best document first."""
        room = self.budget(prompt_tokens)
        chosen: list[ScoredChunk] = []
        seen_documents: set[str] = set()
        for scored in chunks:
            cost = self.count(escape_document_text(scored.chunk.text)) + 2  # + the joining newline / gap
            if scored.chunk.document_id not in seen_documents:
                cost += self._header_tokens(scored)
            if cost > room:
                continue
            chosen.append(scored)
            seen_documents.add(scored.chunk.document_id)
            room -= cost
        return self._group(chosen)

    def _header_tokens(self, scored: ScoredChunk) -> int:
        probe = ContextDocument(number=99, chunks=(), best=scored)
        return self.count(probe.render()) + 2  # the blank line between blocks

    @staticmethod
    def _group(chosen: list[ScoredChunk]) -> list[ContextDocument]:
        by_document: dict[str, list[ScoredChunk]] = {}
        for scored in chosen:  # rank order: dict order = order of each document's best chunk
            by_document.setdefault(scored.chunk.document_id, []).append(scored)
        documents = []
        for number, group in enumerate(by_document.values(), start=1):
            in_order = tuple(sorted(group, key=lambda s: s.chunk.ordinal))
            documents.append(ContextDocument(number=number, chunks=in_order, best=group[0]))
        return documents


def render_documents(documents: Sequence[ContextDocument]) -> str:
    """All document blocks, separated by blank lines."""
    return "\n\n".join(d.render() for d in documents)
