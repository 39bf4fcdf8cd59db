"""The ``contextual`` strategy: a base strategy's chunks, each prefixed with document-level context.

As in contextual retrieval, a chunk alone often lacks what makes it findable
("the deadline is 30 days" - for what?). Each chunk's ``index_text`` (what is
embedded and BM25-indexed) becomes::

    <breadcrumb> > <title> > <heading path>
    <summary of the whole document>
    <chunk text>

The chunk's ``text`` (what users see and cite) and ``start_char`` stay the
base chunk's. The base strategy (``config.base_strategy``) chunks for an input
limit reduced by ``config.context_tokens`` word-pieces, so the prefix fits; the
summary is cut where a long heading path leaves less room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from core.types import Chunk, Document
from ingest.chunking.base import ChunkingConfig, TokenCounter, breadcrumb, create_base_chunker, fit_prefix, register
from ingest.chunking.base import with_prefix


@register("contextual")
class ContextualChunker:
    """Any base strategy with a breadcrumb-and-summary prefix on every chunk's index text."""

    name = "contextual"

    def __init__(self, config: ChunkingConfig, *, summarizer=None, model_pieces: Callable[[str], int] | None = None,
                 **deps: object):
        if config.max_model_tokens - config.context_tokens < 64:
            raise ValueError(f"a context prefix of {config.context_tokens} word-pieces leaves too little of the "
                             f"embedder's {config.max_model_tokens} for the chunk (KURA_CHUNK_CONTEXT_TOKENS)")
        from ingest.summarize import ExtractiveSummarizer

        self.config = config
        base_config = replace(config, max_model_tokens=config.max_model_tokens - config.context_tokens)
        self.base = create_base_chunker(base_config, self.name, model_pieces=model_pieces, **deps)
        self.summarizer = summarizer or ExtractiveSummarizer(encoding=config.encoding)
        # The base chunker's counter when it has one: it has already counted every chunk's text.
        self.counter = getattr(self.base, "counter", None) or TokenCounter(config.encoding, model_pieces)
        self.signature = f"contextual/{config.context_tokens}/{self.base.signature}/{self.summarizer.signature}"

    def split(self, document: Document) -> list[Chunk]:
        chunks = self.base.split(document)
        if not chunks:
            return []
        summary = self.summarizer.summarize(document)
        out = []
        for chunk in chunks:
            context = "\n".join(p for p in (breadcrumb(document, chunk.heading_path), summary) if p)
            prefix = fit_prefix(self.counter, context, chunk.text, self.config.max_model_tokens)
            out.append(replace(chunk, index_text=with_prefix(prefix, chunk.text), strategy=self.name))
        return out
