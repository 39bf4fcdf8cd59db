"""What every chunking strategy shares: the registry, limits, and turning text spans into Chunks.

A strategy is a small class with ``name`` and ``split(document) -> list[Chunk]``
(``core.protocols.Chunker``), registered with ``@register``, so settings, the CLI
and the eval module pick strategies by name.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.tokens import get_encoding
from core.types import Chunk, Document, Section

# Strategy name -> factory(settings-like ChunkingConfig, **deps) -> Chunker
STRATEGIES: dict[str, Callable[..., Any]] = {}


def register(name: str):
    def wrap(cls):
        STRATEGIES[name] = cls
        cls.name = name
        return cls

    return wrap


@dataclass(frozen=True)
class ChunkingConfig:
    """Sizes in tiktoken tokens; ``max_model_tokens`` is the embedder's input limit in its own word-pieces."""

    chunk_tokens: int = 200
    overlap_tokens: int = 30
    min_tokens: int = 60
    encoding: str = "cl100k_base"
    max_model_tokens: int = 256
    # What `contextual` and `summary` build on, and the word-pieces `contextual` keeps for its prefix.
    base_strategy: str = "tokens"
    context_tokens: int = 64

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise ValueError(f"chunk size must be at least 16 tokens, got {self.chunk_tokens}")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ValueError(f"overlap ({self.overlap_tokens}) must be in [0, chunk size {self.chunk_tokens})")
        if self.max_model_tokens < 64:
            raise ValueError(f"the embedder's input limit must be at least 64 word-pieces, got {self.max_model_tokens}")

    @property
    def signature(self) -> str:
        return f"{self.chunk_tokens}/{self.overlap_tokens}/{self.min_tokens}/{self.encoding}/{self.max_model_tokens}"


class _Remembered:
    """Counts of texts, all forgotten at once past a budget of characters.

    Bounded by characters, not entries: the keys keep their texts alive, and a whole document is one of them
    (a re-index runs under a memory limit).
    """

    def __init__(self, budget_chars: int) -> None:
        self.budget = budget_chars
        self.counts: dict[str, int] = {}
        self.chars = 0

    def put(self, text: str, n: int) -> None:
        if self.chars + len(text) > self.budget:
            self.counts.clear()
            self.chars = 0
        self.counts[text] = n
        self.chars += len(text)


class TokenCounter:
    """Counts tiktoken tokens (chunk budgets) and, when given, the embedder's word-pieces (its hard input limit).

    Both counts are remembered per text: chunking asks for the same text's count several times (the
    splitter measures each piece twice, a window is measured when merged, fitted, prefixed and stored), and
    a count is a pure function of the text, so remembering it cannot change the output.
    """

    KEPT_CHARS = 1_000_000  # per kind of count: a few documents' worth (their texts are counted together)

    def __init__(self, encoding: str, model_pieces: Callable[[str], int] | None = None) -> None:
        self._enc = get_encoding(encoding)
        self._model_pieces = model_pieces
        self._tokens = _Remembered(self.KEPT_CHARS)
        self._pieces = _Remembered(self.KEPT_CHARS)
        self._adds_up: bool | None = None

    def tokens(self, text: str) -> int:
        n = self._tokens.counts.get(text)
        if n is None:
            n = len(self._enc.encode(text, disallowed_special=()))
            self._tokens.put(text, n)
        return n

    def model_pieces(self, text: str) -> int:
        """Word-pieces the embedder sees; without a model counter, tiktoken tokens stand in."""
        if not self._model_pieces:
            return self.tokens(text)
        n = self._pieces.counts.get(text)
        if n is None:
            n = self._model_pieces(text)
            self._pieces.put(text, n)
        return n

    def piece_map(self, text: str):
        """The embedder's ``PieceMap`` of ``text`` (one encoding answers its windows' counts; ``total`` is the
        text's own), or None. Found, like ``joined_pieces``' shortcut, on the owner of the counting method."""
        owner = getattr(self._model_pieces, "__self__", None)
        mapper = getattr(owner, "word_piece_map", None)
        return mapper(text) if mapper else None

    def pieces_at(self, pmap, start: int, text: str) -> int:
        """``model_pieces(text)`` for ``text`` found at ``start`` in ``pmap``'s text, from the map when it can."""
        if pmap is not None and text not in self._pieces.counts:
            n = pmap.count(start, text)
            if n is not None:
                self._pieces.put(text, n)
        return self.model_pieces(text)

    def joined_pieces(self, prefix: str, text: str) -> int:
        """``model_pieces(prefix + "\\n" + text)``, from the two parts' counts where the tokenizer allows it."""
        if self._adds_up is None:
            # Every caller hands over the embedder's bound ``count_word_pieces``; its owner says whether counts
            # add up (retrieval.word_pieces). Asked lazily: building a chunker must not load a tokenizer.
            owner = getattr(self._model_pieces, "__self__", None)
            self._adds_up = bool(getattr(owner, "word_pieces_add_up", False))
        if self._adds_up:
            return self.model_pieces(prefix) + self.model_pieces(text) - 2
        return self.model_pieces(f"{prefix}\n{text}")

    @property
    def has_model_counter(self) -> bool:
        return self._model_pieces is not None


def sections_with_offsets(document: Document) -> list[tuple[int, Section]]:
    """Non-empty sections with their offsets in ``Document.text``."""
    out: list[tuple[int, Section]] = []
    offset = 0
    for section in document.sections:
        if not section.text.strip():
            continue
        out.append((offset, section))
        offset += len(section.text) + 2  # the "\n\n" joining sections in Document.text
    return out


class SectionIndex:
    """Maps a character offset in ``Document.text`` back to the section (and heading path) it falls in."""

    def __init__(self, document: Document) -> None:
        located = sections_with_offsets(document)
        self.starts = [offset for offset, _ in located]
        self.sections = [section for _, section in located]

    def heading_path_at(self, offset: int) -> tuple[str, ...]:
        if not self.sections:
            return ()
        i = max(0, bisect.bisect_right(self.starts, offset) - 1)
        return self.sections[i].heading_path


def title_prefix(document: Document, heading_path: tuple[str, ...]) -> str:
    """The context line put before a chunk's text for embedding and BM25: title and heading path."""
    crumbs = [document.title, *[h for h in heading_path if h != document.title]]
    return " > ".join(c for c in crumbs if c)


def truncate_to_pieces(counter: TokenCounter, text: str, limit: int) -> str:
    """The longest beginning of ``text`` within ``limit`` embedder word-pieces ([CLS]/[SEP] included)."""
    if counter.model_pieces(text) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # binary search over characters: a dozen tokenizer calls for a long text
        mid = (lo + hi + 1) // 2
        if counter.model_pieces(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip()


def fit_prefix(counter: TokenCounter, prefix: str, text: str, limit: int) -> str:
    """``prefix`` cut at its end so that ``prefix + "\n" + text`` stays within ``limit`` embedder word-pieces.

    Returns "" when the text leaves no room. Word-piece counts include
    [CLS]/[SEP], which the joined text has once, not twice.
    """
    if not prefix or counter.joined_pieces(prefix, text) <= limit:
        return prefix
    room = limit - counter.model_pieces(text) + 2 - 1  # specials counted once; one piece for the newline
    if room <= 2:
        return ""
    cut = truncate_to_pieces(counter, prefix, room)
    return cut if counter.joined_pieces(cut, text) <= limit else ""


def with_prefix(prefix: str, text: str) -> str:
    return f"{prefix}\n{text}" if prefix else text


def make_chunk(
    document: Document,
    *,
    ordinal: int,
    text: str,
    index_text: str,
    heading_path: tuple[str, ...],
    token_count: int,
    strategy: str,
    start_char: int,
    document_hash: str,
) -> Chunk:
    return Chunk(
        document_id=document.id,
        ordinal=ordinal,
        text=text,
        index_text=index_text,
        heading_path=heading_path,
        token_count=token_count,
        strategy=strategy,
        principals=document.principals,
        title=document.title,
        url=document.url,
        source=document.source,
        document_hash=document_hash,
        start_char=start_char,
        updated_at=document.updated_at.isoformat() if document.updated_at else "",
    )


def create_chunker(name: str, config: ChunkingConfig, **deps: Any):
    """A strategy by name; ``deps`` carries optional collaborators (model word-piece counter, summarizer)."""
    # Importing the package registers the built-in strategies.
    import ingest.chunking  # noqa: F401

    try:
        factory = STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown chunking strategy {name!r}; known: {known}") from None
    return factory(config, **deps)


# Strategies that wrap another one; they cannot be a base themselves.
_WRAPPERS = ("contextual", "summary")


def create_base_chunker(config: ChunkingConfig, wrapper: str, **deps: Any):
    """The strategy a wrapping strategy (``contextual``, ``summary``) builds on: ``config.base_strategy``."""
    if config.base_strategy in _WRAPPERS:
        raise ValueError(f"{wrapper!r} cannot build on {config.base_strategy!r}; use tokens or structure "
                         "(KURA_CHUNK_BASE_STRATEGY)")
    return create_chunker(config.base_strategy, config, **deps)


def breadcrumb(document: Document, heading_path: tuple[str, ...] = ()) -> str:
    """Where a chunk sits: the page's ancestors (``metadata["breadcrumb"]``), its title, then the heading path."""
    ancestors = document.metadata.get("breadcrumb") or ()
    if isinstance(ancestors, str):
        ancestors = [a.strip() for a in ancestors.replace(" > ", "/").split("/")]
    crumbs = [str(a) for a in ancestors if str(a).strip()]
    return " > ".join([*crumbs, title_prefix(document, heading_path)]).strip(" >")
