"""The ``summary`` strategy: a base strategy's chunks plus one chunk per document holding its summary.

Broad questions ("what is our parental leave policy about?") match a summary
better than any single passage, so the summary chunk leads them to the right
document. Its text is synthetic, not a span of the document: ``start_char``
is -1 and it comes last (ordinal after the base chunks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from core.types import Chunk, Document
from ingest.chunking.base import ChunkingConfig, TokenCounter, breadcrumb, create_base_chunker, fit_prefix, make_chunk
from ingest.chunking.base import register, truncate_to_pieces, with_prefix


@register("summary")
class SummaryChunker:
    """Base chunks, then the document's summary as a chunk of its own."""

    name = "summary"

    def __init__(self, config: ChunkingConfig, *, summarizer=None, model_pieces: Callable[[str], int] | None = None,
                 **deps: object):
        from ingest.summarize import ExtractiveSummarizer

        self.config = config
        self.base = create_base_chunker(config, self.name, model_pieces=model_pieces, **deps)
        self.summarizer = summarizer or ExtractiveSummarizer(encoding=config.encoding)
        # The base chunker's counter when it has one: it has already counted every chunk's text.
        self.counter = getattr(self.base, "counter", None) or TokenCounter(config.encoding, model_pieces)
        self.signature = f"summary/{self.base.signature}/{self.summarizer.signature}"

    def split(self, document: Document) -> list[Chunk]:
        chunks = [replace(c, strategy=self.name) for c in self.base.split(document)]
        if not chunks:
            return []
        summary = self._fit(self.summarizer.summarize(document))
        if not summary:
            return chunks
        prefix = fit_prefix(self.counter, breadcrumb(document), summary, self.config.max_model_tokens)
        chunks.append(
            make_chunk(
                document,
                ordinal=len(chunks),
                text=summary,
                index_text=with_prefix(prefix, summary),
                heading_path=(),
                token_count=self.counter.tokens(summary),
                strategy=self.name,
                start_char=-1,
                document_hash="",
            )
        )
        return chunks

    def _fit(self, summary: str) -> str:
        """A summary longer than the embedder reads is cut, leaving room for the title line."""
        limit = self.config.max_model_tokens - 32
        return truncate_to_pieces(self.counter, summary, limit)
