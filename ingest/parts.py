"""A very long document, cut into parts a chunker can take one at a time (bounded memory).

Chunking a whole 4 MB text at once took 0.6 GB and 72 s here (the splitter and
the tokenizers hold the whole text's tokens); a 50 MB file reached 7 GB. The
pipeline therefore hands a long document to its chunker in parts of at most
``PART_CHARS`` characters: runs of whole sections, and a section longer than
that cut at a paragraph, line, sentence or word boundary. Each part is a
``Document`` with the same id, title and access, so chunk ids, titles and
permissions come out as usual; the offset returned with it places the part's
chunks in the whole document's text (``Chunk.start_char``). A document within
one part is passed through untouched, so ordinary documents chunk exactly as
before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from core.types import Document, Section

PART_CHARS = 200_000
# Where a long section may be cut, strongest first; a cut is looked for in the second half of a window.
_CUTS = ("\n\n", "\n", "。", ". ", "! ", "? ", " ")


def text_length(document: Document) -> int:
    """Characters of ``document.text`` without building it."""
    sections = [s for s in document.sections if s.text.strip()]
    return sum(len(s.text) for s in sections) + 2 * max(0, len(sections) - 1)


def document_parts(document: Document, limit: int = PART_CHARS) -> Iterator[tuple[int, Document]]:
    """(offset in ``document.text``, part) pairs covering the document's text in order."""
    if text_length(document) <= limit:
        yield 0, document
        return
    run: list[Section] = []
    run_start = run_len = 0
    offset = 0
    for section in document.sections:
        if not section.text.strip():
            continue  # Document.text skips these, so offsets do too
        if len(section.text) > limit:
            if run:
                yield run_start, replace(document, sections=tuple(run))
                run = []
            for start, piece in cut_text(section.text, limit):
                if piece.strip():
                    piece_section = Section(piece, section.heading_path, section.kind)
                    yield offset + start, replace(document, sections=(piece_section,))
        else:
            if run and run_len + 2 + len(section.text) > limit:
                yield run_start, replace(document, sections=tuple(run))
                run = []
            if not run:
                run_start, run_len = offset, -2
            run.append(section)
            run_len += 2 + len(section.text)
        offset += len(section.text) + 2
    if run:
        yield run_start, replace(document, sections=tuple(run))


def cut_text(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """Consecutive (start, piece) of ``text``, each at most ``limit`` characters, cut at the strongest boundary."""
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = -1
        for sep in _CUTS:
            at = text.rfind(sep, start + limit // 2, end)
            if at >= 0:
                cut = at + len(sep)
                break
        if cut <= start:
            cut = end  # no boundary at all (a base64 blob, say): cut anywhere
        yield start, text[start:cut]
        start = cut
    yield start, text[start:]
