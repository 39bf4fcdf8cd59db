"""Long documents are chunked in bounded parts that cover the text exactly, in order."""

from __future__ import annotations

from core.types import Document, Section
from ingest.parts import cut_text, document_parts, text_length


def doc(*texts: str) -> Document:
    return Document("files", "x", "X", tuple(Section(t, ("H",)) for t in texts))


def test_a_short_document_is_one_untouched_part():
    d = doc("one", "two")
    assert list(document_parts(d, 1000)) == [(0, d)]


def test_parts_are_bounded_and_place_their_text_exactly():
    paragraphs = [f"Paragraph {i}. " + "word " * (i % 40) for i in range(400)]
    d = doc("", *paragraphs, "   ", "x" * 2500 + " tail. " + "y" * 700, "end")
    parts = list(document_parts(d, 1000))
    assert len(parts) > 10
    whole = d.text
    assert text_length(d) == len(whole)
    for offset, part in parts:
        assert len(part.text) <= 1000
        assert whole[offset: offset + len(part.text)] == part.text  # chunk offsets stay offsets in the whole text
        assert part.id == d.id and part.title == d.title and part.principals == d.principals
    covered = "".join(part.text for _, part in parts)
    assert covered.replace("\n", "") == whole.replace("\n", "")  # nothing lost, nothing repeated


def test_cuts_prefer_paragraphs_then_sentences_and_never_exceed_the_limit():
    text = ("First sentence here. " * 30) + "\n\n" + ("Second block. " * 30)
    pieces = list(cut_text(text, 500))
    assert all(len(p) <= 500 for _, p in pieces)
    assert "".join(p for _, p in pieces) == text
    assert pieces[0][1].endswith(". ")
    assert list(cut_text("z" * 2100, 1000)) == [(0, "z" * 1000), (1000, "z" * 1000), (2000, "z" * 100)]
