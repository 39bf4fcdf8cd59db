"""The ``structure`` strategy: chunks follow the document's own sections.

A Section is a heading's paragraph, a list, a table, a code block or a Slack
message (``Section.kind``). Consecutive sections under the same heading are
merged while they fit the token budget, so a chunk is one coherent piece of
the page; a section too big for one chunk (a huge paragraph, a long table) is
cut by the ``tokens`` strategy's sentence-aware splitter, at row and line
boundaries first. A chunk never crosses into a new heading unless it would
otherwise stay under ``min_tokens`` (short chunks attract dense queries out
of proportion, see tokens.py). Each chunk carries the heading path its
sections share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.types import Chunk, Document, Section
from ingest.chunking.base import (
    ChunkingConfig,
    fit_prefix,
    make_chunk,
    register,
    sections_with_offsets,
    title_prefix,
    with_prefix,
)
from ingest.chunking.tokens import TokenChunker


@dataclass
class _Span:
    """A candidate chunk: ``text[start:end]`` of Document.text, its sections' heading paths and size estimates."""

    start: int
    end: int
    paths: list[tuple[str, ...]]
    tokens: int
    pieces: int  # embedder word-pieces without [CLS]/[SEP]

    @property
    def heading_path(self) -> tuple[str, ...]:
        """The heading path every section of the chunk shares (the first section's when they share none)."""
        common = list(self.paths[0])
        for path in self.paths[1:]:
            n = 0
            while n < min(len(common), len(path)) and common[n] == path[n]:
                n += 1
            common = common[:n]
        return tuple(common) or self.paths[0]


@register("structure")
class StructureChunker:
    """Sections merged up to the token budget; oversized sections split like the ``tokens`` strategy does."""

    name = "structure"

    def __init__(self, config: ChunkingConfig, *, model_pieces: Callable[[str], int] | None = None, **_: object):
        self.config = config
        self.splitter = TokenChunker(config, model_pieces=model_pieces)
        self.counter = self.splitter.counter
        self.signature = f"structure/{config.signature}"

    def split(self, document: Document) -> list[Chunk]:
        text = document.text
        # One encoding of the document answers its sections' and chunks' word-piece counts (see base.TokenCounter).
        pmap = self.counter.piece_map(text) if self.counter.has_model_counter else None
        spans = self._merge_short(self._group(document, pmap))
        chunks: list[Chunk] = []
        for span in spans:
            piece = text[span.start : span.end]
            if pmap is not None:
                self.counter.pieces_at(pmap, span.start, piece)  # remembered for the prefix fit
            heading = span.heading_path
            prefix = fit_prefix(self.counter, title_prefix(document, heading), piece, self.config.max_model_tokens)
            chunks.append(
                make_chunk(
                    document,
                    ordinal=len(chunks),
                    text=piece,
                    index_text=with_prefix(prefix, piece),
                    heading_path=heading,
                    token_count=self.counter.tokens(piece),
                    strategy=self.name,
                    start_char=span.start,
                    document_hash="",
                )
            )
        return chunks

    def _group(self, document: Document, pmap=None) -> list[_Span]:
        """Sections in order, merged while they share a heading and fit; big ones split."""
        spans: list[_Span] = []
        current: _Span | None = None
        for offset, section in sections_with_offsets(document):
            tokens = self.counter.tokens(section.text)
            pieces = self._pieces(section.text, pmap, offset)
            if tokens > self.config.chunk_tokens or pieces > self.splitter.room:
                if current:
                    spans.append(current)
                current = None
                spans.extend(self._split_section(offset, section))
                continue
            if current is not None and self._fits(current, tokens, pieces) and (
                section.heading_path == current.paths[-1] or current.tokens < self.config.min_tokens
            ):
                current.end = offset + len(section.text)
                current.paths.append(section.heading_path)
                current.tokens += tokens + 1
                current.pieces += pieces + 1
                continue
            if current:
                spans.append(current)
            current = _Span(offset, offset + len(section.text), [section.heading_path], tokens, pieces)
        if current:
            spans.append(current)
        return spans

    def _split_section(self, offset: int, section: Section) -> list[_Span]:
        return [
            _Span(offset + start, offset + start + len(piece), [section.heading_path],
                  self.counter.tokens(piece), self._pieces(piece))
            for start, piece in self.splitter.spans(section.text)
        ]

    def _merge_short(self, spans: list[_Span]) -> list[_Span]:
        """A span under ``min_tokens`` joins its predecessor when the two still fit (a short last section, say)."""
        merged: list[_Span] = []
        for span in spans:
            prev = merged[-1] if merged else None
            if (
                prev is not None
                and (span.tokens < self.config.min_tokens or prev.tokens < self.config.min_tokens)
                and span.start >= prev.end  # split pieces overlap; those were sized by the splitter already
                and self._fits(prev, span.tokens, span.pieces, slack=self.config.min_tokens)
            ):
                prev.end = span.end
                prev.paths.extend(span.paths)
                prev.tokens += span.tokens + 1
                prev.pieces += span.pieces + 1
                continue
            merged.append(span)
        return merged

    def _fits(self, span: _Span, tokens: int, pieces: int, slack: int = 0) -> bool:
        # Sums of the parts' counts (plus the blank line between them) stand in for counting the joined text.
        return (
            span.tokens + tokens + 1 <= self.config.chunk_tokens + slack
            and span.pieces + pieces + 1 <= self.splitter.room
        )

    def _pieces(self, text: str, pmap=None, offset: int = -1) -> int:
        """Word-pieces without [CLS]/[SEP]; ``pmap`` (the document's) counts ``text`` found at ``offset``."""
        if not self.counter.has_model_counter:
            return self.counter.tokens(text)
        return max(0, self.counter.pieces_at(pmap, offset, text) - 2)

