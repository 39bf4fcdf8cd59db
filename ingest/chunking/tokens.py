"""The ``tokens`` strategy: sentence-aware token windows with overlap.

Windows are measured in tiktoken tokens and cut at the strongest boundary that
fits (paragraph, line, sentence end in English or Japanese, clause, word), via
langchain's recursive splitter. Two rules come from measurement:

- No short chunks: short chunks attract dense queries out of proportion (with
  254-token windows, the short last window of each article was the dense top
  hit for almost every Japanese question). A window under ``min_tokens`` is
  merged into its neighbour.
- No chunk longer than the embedder's input limit (256 word-pieces for the
  default model, which silently truncates longer input). Japanese costs more
  word-pieces than tiktoken tokens, so the budget shrinks by the text's
  word-piece-per-token ratio, and a window that still overflows is re-split.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.types import Chunk, Document
from ingest.chunking.base import (
    ChunkingConfig,
    SectionIndex,
    TokenCounter,
    fit_prefix,
    make_chunk,
    register,
    title_prefix,
    with_prefix,
)

SENTENCE_SEPARATORS = ["\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "; ", "；", "、", ", ", " ", ""]
# [CLS]/[SEP] plus room for the title and heading prefix added before embedding.
_RESERVED_PIECES = 2 + 30


@register("tokens")
class TokenChunker:
    """Sentence-aware token windows with overlap, prefixed with the title and heading path for indexing."""

    name = "tokens"

    def __init__(self, config: ChunkingConfig, *, model_pieces: Callable[[str], int] | None = None, **_: object):
        self.config = config
        self.counter = TokenCounter(config.encoding, model_pieces)
        self.signature = f"tokens/{config.signature}"
        # Word-pieces a chunk's own text may use: the input limit less [CLS]/[SEP] and the prefix.
        self.room = max(16, config.max_model_tokens - _RESERVED_PIECES)

    def effective_size(self, text: str, pieces: int | None = None) -> int:
        """The token budget for this text: the configured size, shrunk where the embedder's word-pieces bind first.

        Measured once per text as the ratio of word-pieces to tiktoken tokens
        (about 1 for English, 1.3-1.6 for Japanese with the default model); ``pieces`` is the text's
        word-piece count when the caller has it.
        """
        size = self.config.chunk_tokens
        if not self.counter.has_model_counter:
            return size
        tokens = max(1, self.counter.tokens(text))
        ratio = (self.counter.model_pieces(text) if pieces is None else pieces) / tokens
        return max(16, min(size, int(self.room / max(ratio, 1e-6))))

    def spans(self, text: str, size: int | None = None, overlap: int | None = None) -> list[tuple[int, str]]:
        """(start offset, text) windows of ``text``, short ones merged into a neighbour, all within the model limit."""
        # One encoding of the whole text answers most windows' word-piece counts (and the text's own, which
        # effective_size needs); a re-split window (size given) is rare and counts its windows itself.
        pmap = self.counter.piece_map(text) if size is None and self.counter.has_model_counter else None
        size = size or self.effective_size(text, pmap.total if pmap is not None else None)
        splitter = RecursiveCharacterTextSplitter(
            separators=SENTENCE_SEPARATORS,
            keep_separator="end",
            chunk_size=size,
            chunk_overlap=min(self.config.overlap_tokens if overlap is None else overlap, size // 2),
            length_function=self.counter.tokens,
        )
        spans = self._merge_short(text, _locate(text, splitter.split_text(text)), size, pmap)
        return [fitted for span in spans for fitted in self._fit_model_limit(span, size, pmap)]

    def _fit_model_limit(self, span: tuple[int, str], size: int, pmap=None) -> list[tuple[int, str]]:
        """A window whose word-pieces still overflow (unusual text) is re-split with a smaller budget."""
        start, piece = span
        if not self.counter.has_model_counter or self.counter.pieces_at(pmap, start, piece) <= self.room or size <= 16:
            return [span]
        return [(start + s, t) for s, t in self.spans(piece, size=max(16, size * 2 // 3), overlap=0)]

    def _merge_short(self, text: str, spans: list[tuple[int, str]], size: int, pmap=None) -> list[tuple[int, str]]:
        merged: list[tuple[int, str]] = []
        for start, piece in spans:
            if merged and (self.counter.tokens(piece) < self.config.min_tokens or
                           self.counter.tokens(merged[-1][1]) < self.config.min_tokens):
                prev_start, _ = merged[-1]
                raw = text[prev_start : start + len(piece)]
                candidate = raw.strip()
                # Allow a merged window to exceed the budget by the short part, never the model's input limit.
                if self.counter.tokens(candidate) <= size + self.config.min_tokens and (
                    self.counter.pieces_at(pmap, prev_start + len(raw) - len(raw.lstrip()), candidate) <= self.room
                ):
                    merged[-1] = (prev_start, candidate)
                    continue
            merged.append((start, piece))
        return merged

    def split(self, document: Document) -> list[Chunk]:
        return self.split_text(document, document.text, base_offset=0, first_ordinal=0, document_hash="")

    def split_text(
        self, document: Document, text: str, *, base_offset: int, first_ordinal: int, document_hash: str
    ) -> list[Chunk]:
        """Chunks of ``text`` (all of ``document.text`` or a part of it starting at ``base_offset``)."""
        if not text.strip():
            return []
        sections = SectionIndex(document)
        chunks: list[Chunk] = []
        for start, piece in self.spans(text):
            heading = sections.heading_path_at(base_offset + start)
            prefix = fit_prefix(self.counter, title_prefix(document, heading), piece, self.config.max_model_tokens)
            chunks.append(
                make_chunk(
                    document,
                    ordinal=first_ordinal + len(chunks),
                    text=piece,
                    index_text=with_prefix(prefix, piece),
                    heading_path=heading,
                    token_count=self.counter.tokens(piece),
                    strategy=self.name,
                    start_char=base_offset + start,
                    document_hash=document_hash,
                )
            )
        return chunks


def _locate(text: str, pieces: list[str]) -> list[tuple[int, str]]:
    """Offsets of consecutive, possibly overlapping pieces of ``text``.

    A piece starts after the previous one's start and, when they overlap, no
    later than the previous one's end: the last match in that window is taken
    (then the first after it). Taking the first match after the previous start
    instead pinned every piece of repeated text (the same sentence many times)
    one sentence further and left the rest of the text in no chunk.
    """
    out: list[tuple[int, str]] = []
    prev_start, prev_end = -1, 0
    for piece in pieces:
        at = text.rfind(piece, prev_start + 1, prev_end + len(piece))
        if at < 0:
            at = text.find(piece, prev_end)
        if at < 0:  # periodic text let earlier pieces drift right: place this one as late as it occurs
            at = text.rfind(piece)
        out.append((at, piece))
        if at >= 0:
            prev_start, prev_end = at, at + len(piece)
    return out
