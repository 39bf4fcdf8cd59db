"""The tokens strategy: sentence-aware windows within budget and the embedder's limit, no short leftovers."""

from __future__ import annotations

import pytest

from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker

EN_PARAGRAPH = (
    "The VPN client must be updated before you connect from a hotel network. "
    "Hotel networks often block the ports the client uses, so it falls back to HTTPS. "
    "If the connection still drops, open a ticket in the IT help desk with the client log attached. "
)
JA_PARAGRAPH = (
    "経費精算申請書は領収書の日付から30日以内に提出してください。"
    "提出が遅れた場合は、部門長の承認が追加で必要になります。"
    "海外出張の経費は、為替レートを確認したうえで日本円に換算して申請します。"
)


@pytest.fixture(scope="module")
def chunker(embedder):
    return create_chunker("tokens", ChunkingConfig(chunk_tokens=120, overlap_tokens=20, min_tokens=40),
                          model_pieces=embedder.count_word_pieces)


def doc(*sections: Section, title: str = "IT guide") -> Document:
    return Document(source="sample", source_id="x", title=title, sections=tuple(sections))


def test_windows_respect_budget_offsets_and_headings(chunker):
    d = doc(Section("Intro to the guide.", ("IT guide",)), Section(EN_PARAGRAPH * 8, ("IT guide", "VPN")))
    chunks = chunker.split(d)
    assert len(chunks) > 3
    text = d.text
    for c in chunks:
        assert text[c.start_char : c.start_char + len(c.text)] == c.text
        assert c.token_count <= 120 + 40  # budget, plus at most one merged short piece
        assert c.index_text.startswith("IT guide")  # title prefix for embedding and BM25
        assert c.strategy == "tokens"
    assert chunks[-1].heading_path == ("IT guide", "VPN")
    # Windows end at sentence ends, not mid-sentence.
    assert all(c.text.rstrip().endswith(".") for c in chunks)
    # Consecutive windows overlap.
    assert chunks[1].start_char < chunks[0].start_char + len(chunks[0].text)


def test_no_short_leftover_at_the_end(chunker):
    for n in range(2, 9):
        chunks = chunker.split(doc(Section(EN_PARAGRAPH * n)))
        if len(chunks) > 1:
            assert min(c.token_count for c in chunks) >= 40, n


def test_japanese_chunks_fit_the_embedder_input(chunker, embedder):
    chunks = chunker.split(doc(Section(JA_PARAGRAPH * 20), title="経費精算の手順"))
    assert len(chunks) > 2
    for c in chunks:
        assert embedder.count_word_pieces(c.index_text) <= 256
        assert c.text.endswith("。")


def test_edge_cases(chunker, embedder):
    assert chunker.split(doc()) == []
    assert chunker.split(doc(Section("   \n  "))) == []
    # One huge paragraph without any sentence punctuation still splits within the limit.
    words = " ".join(f"word{i}" for i in range(3000))
    chunks = chunker.split(doc(Section(words)))
    assert len(chunks) > 5 and all(embedder.count_word_pieces(c.index_text) <= 256 for c in chunks)
    # A table row wider than the budget is split rather than truncated.
    row = "; ".join(f"Column {i}: value {i}" for i in range(200))
    chunks = chunker.split(doc(Section(row, kind="table")))
    assert "".join(c.text for c in chunks).count("Column") >= 200


def test_ids_are_deterministic_and_change_with_content(chunker):
    a = chunker.split(doc(Section(EN_PARAGRAPH * 3)))
    b = chunker.split(doc(Section(EN_PARAGRAPH * 3)))
    c = chunker.split(doc(Section(EN_PARAGRAPH * 3 + "One more sentence.")))
    assert [x.id for x in a] == [x.id for x in b]
    assert a[-1].id != c[-1].id


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="overlap"):
        ChunkingConfig(chunk_tokens=100, overlap_tokens=100)
    with pytest.raises(ValueError, match="unknown chunking strategy"):
        create_chunker("nope", ChunkingConfig())
