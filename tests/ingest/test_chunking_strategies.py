"""Every strategy on English and Japanese documents with real structure, and on the awkward cases.

What must hold for every strategy: chunks fit the embedder's input (prefix
included), a chunk that is a span of the document says where it starts, the
spans cover the whole text, and nothing breaks on empty or shapeless input.
"""

from __future__ import annotations

import re

import pytest

from core.types import Document, Section
from ingest.chunking import STRATEGIES, ChunkingConfig, create_chunker
from ingest.connectors.sample import SAMPLE_DIR, SampleConnector
from ingest.markdown import parse_sections
from ingest.summarize import ExtractiveSummarizer

CONFIG = ChunkingConfig(chunk_tokens=120, overlap_tokens=20, min_tokens=40, max_model_tokens=256)
ALL = ("tokens", "structure", "contextual", "summary")

EN_SENTENCE = "Contractors must return their badge to reception on the last day of their contract. "
JA_SENTENCE = "契約社員は契約の最終日に受付へ入館証を返却してください。"


class CountingSummarizer:
    """The real extractive summarizer, counting calls (a summary is made once per document)."""

    def __init__(self):
        self.inner = ExtractiveSummarizer(max_tokens=60)
        self.signature = "counting/" + self.inner.signature
        self.calls = 0

    def summarize(self, document):
        self.calls += 1
        return self.inner.summarize(document)


@pytest.fixture(scope="module")
def chunkers(embedder):
    summarizer = CountingSummarizer()
    made = {name: create_chunker(name, CONFIG, model_pieces=embedder.count_word_pieces, summarizer=summarizer)
            for name in ALL}
    return made, summarizer


def markdown_doc(body: str, title: str, *, source: str = "confluence", metadata: dict | None = None) -> Document:
    title, sections = parse_sections(body, title=title)
    return Document(source=source, source_id=title, title=title, sections=sections, metadata=metadata or {})


def sample(name: str) -> Document:
    return SampleConnector.read(SAMPLE_DIR / name)


def assert_sound(document: Document, chunks, embedder) -> None:
    """Within the input limit, honest offsets, consecutive ordinals, and all of the text covered."""
    text = document.text
    covered = [False] * len(text)
    for i, chunk in enumerate(chunks):
        assert chunk.ordinal == i
        assert embedder.count_word_pieces(chunk.index_text) <= CONFIG.max_model_tokens, chunk.index_text[:80]
        assert chunk.text.strip()
        if chunk.start_char >= 0:
            assert text[chunk.start_char : chunk.start_char + len(chunk.text)] == chunk.text
            covered[chunk.start_char : chunk.start_char + len(chunk.text)] = [True] * len(chunk.text)
    assert all(c or text[i].isspace() for i, c in enumerate(covered)), "some text is in no chunk"


# --- every strategy, every kind of document ------------------------------------------------------
DOCUMENTS = {
    "english-table": lambda: sample("confluence-printers-and-scanning.md"),
    "japanese-headings": lambda: sample("confluence-keihi-seisan-tejun.md"),
    "japanese-table": lambda: sample("confluence-tokyo-office-guide.md"),
    "slack-thread-en": lambda: sample("slack-it-help-lost-laptop.md"),
    "slack-thread-ja": lambda: sample("slack-tokyo-office-raikyaku-kaigishitsu.md"),
    "huge-paragraph": lambda: Document("files", "huge", "Badges", (Section(EN_SENTENCE * 200),)),
    "huge-japanese-paragraph": lambda: Document("files", "huge-ja", "入館証", (Section(JA_SENTENCE * 150),)),
    "no-punctuation": lambda: Document(
        "files", "np", "Log", (Section(" ".join(f"host{i} restarted service kura-worker ok" for i in range(400))),)
    ),
    "no-punctuation-japanese": lambda: Document("files", "np-ja", "ログ", (Section("サーバー再起動完了確認済み" * 300),)),
    "table-wider-than-budget": lambda: markdown_doc(
        "# Rates\n\n| Region | Notes |\n|---|---|\n| EU | " + "rate depends on the contract and the month " * 60 + "|\n"
        + "".join(f"| R{i} | flat rate {i} EUR per night |\n" for i in range(40)),
        "Rates",
    ),
}


@pytest.mark.parametrize("strategy", ALL)
@pytest.mark.parametrize("kind", sorted(DOCUMENTS))
def test_chunks_fit_the_embedder_and_cover_the_text(chunkers, embedder, strategy, kind):
    document = DOCUMENTS[kind]()
    chunks = chunkers[0][strategy].split(document)
    assert len(chunks) >= 1
    assert_sound(document, chunks, embedder)
    assert {c.strategy for c in chunks} == {strategy}
    assert all(c.document_id == document.id and c.principals == document.principals for c in chunks)


@pytest.mark.parametrize("strategy", ALL)
def test_empty_document_has_no_chunks(chunkers, strategy):
    empty = Document("files", "empty", "Nothing here", (Section(""), Section("   \n")))
    assert chunkers[0][strategy].split(empty) == []


def test_every_registered_strategy_is_tested():
    assert set(STRATEGIES) == set(ALL)


# --- structure ---------------------------------------------------------------------------------
def test_structure_follows_headings_and_keeps_heading_paths(chunkers):
    body = "# Travel\n\n" + "".join(
        f"## {topic}\n\n{(topic + ' rules apply to every trip booked through the travel desk. ') * 6}\n\n"
        for topic in ("Flights", "Hotels", "Trains")
    )
    document = markdown_doc(body, "Travel")
    chunks = chunkers[0]["structure"].split(document)
    assert [c.heading_path for c in chunks] == [("Travel", t) for t in ("Flights", "Hotels", "Trains")]
    assert all(c.text.startswith(c.heading_path[-1]) for c in chunks)  # each chunk is its heading's body
    assert chunks[0].index_text.startswith("Travel > Flights\n")


def test_structure_merges_small_sections_under_one_heading(chunkers):
    items = "\n\n".join(f"- Step {i}: check the cable." for i in range(6))
    document = markdown_doc(f"# Printer\n\n## Fixing jams\n\nOpen tray 2.\n\n{items}\n\nClose the tray.", "Printer")
    chunks = chunkers[0]["structure"].split(document)
    assert len(chunks) == 1 and chunks[0].text == document.text
    assert chunks[0].heading_path == ("Printer", "Fixing jams")


def test_structure_keeps_slack_messages_whole(chunkers):
    document = sample("slack-it-help-lost-laptop.md")
    messages = [s.text for s in document.sections if s.kind == "message"]
    assert len(messages) >= 4
    for chunk in chunkers[0]["structure"].split(document):
        assert re.match(r"[^()\n]+ \(\d{4}-\d\d-\d\d \d\d:\d\d\): ", chunk.text), "a chunk starts mid-message"
        assert any(chunk.text.endswith(m) for m in messages), "a chunk ends mid-message"


def test_structure_splits_a_long_table_at_row_boundaries(chunkers):
    rows = "".join(f"| Tokyo {i}F | Room {i} | {i + 4} seats | monitor and camera |\n" for i in range(60))
    document = markdown_doc(f"# Rooms\n\n| Floor | Name | Size | Equipment |\n|---|---|---|---|\n{rows}", "Rooms")
    row_lines = set(document.sections[0].text.splitlines())
    chunks = chunkers[0]["structure"].split(document)
    assert len(chunks) > 2
    for chunk in chunks:
        assert set(chunk.text.splitlines()) <= row_lines  # whole rows only
        assert chunk.token_count <= CONFIG.chunk_tokens + CONFIG.min_tokens


def test_structure_on_japanese_headings(chunkers, embedder):
    document = sample("confluence-keihi-seisan-tejun.md")
    chunks = chunkers[0]["structure"].split(document)
    paths = {c.heading_path for c in chunks}
    assert ("経費精算の手順", "基本ルール") in paths and len(paths) >= 4
    assert all(c.index_text.startswith(" > ".join(c.heading_path)) for c in chunks)


# --- contextual --------------------------------------------------------------------------------
def test_contextual_prefixes_breadcrumb_and_summary_and_keeps_the_text(chunkers):
    made, summarizer = chunkers
    document = sample("confluence-keihi-seisan-tejun.md")
    assert document.metadata["breadcrumb"] == ["Finance", "手順書"]
    before = summarizer.calls
    chunks = made["contextual"].split(document)
    assert summarizer.calls == before + 1  # one summary per document, not per chunk
    summary = summarizer.inner.summarize(document)
    assert summary
    for chunk in chunks:
        first, second = chunk.index_text.split("\n", 2)[:2]
        assert first.startswith("Finance > 手順書 > 経費精算の手順")
        assert second and summary.startswith(second)  # cut only where the chunk leaves too little room
        assert chunk.index_text.endswith(chunk.text)
    # The base strategy's text and offsets are untouched.
    base = create_chunker("tokens", ChunkingConfig(**{**CONFIG.__dict__, "max_model_tokens": 256 - 64}),
                          model_pieces=made["tokens"].counter.model_pieces)
    assert [(c.text, c.start_char) for c in chunks] == [(c.text, c.start_char) for c in base.split(document)]


def test_contextual_on_structure(embedder):
    config = ChunkingConfig(**{**CONFIG.__dict__, "base_strategy": "structure"})
    chunker = create_chunker("contextual", config, model_pieces=embedder.count_word_pieces)
    document = sample("confluence-printers-and-scanning.md")
    chunks = chunker.split(document)
    assert chunker.signature.startswith("contextual/64/structure/")
    assert_sound(document, chunks, embedder)
    assert any(len(c.heading_path) > 1 and " > ".join(c.heading_path) in c.index_text for c in chunks)


# --- summary -----------------------------------------------------------------------------------
def test_summary_adds_one_synthetic_chunk_after_the_base_chunks(chunkers):
    made, summarizer = chunkers
    document = sample("gdocs-laptop-policy.md")
    base = made["tokens"].split(document)
    chunks = made["summary"].split(document)
    assert [(c.text, c.start_char) for c in chunks[:-1]] == [(c.text, c.start_char) for c in base]
    last = chunks[-1]
    assert last.start_char == -1 and last.ordinal == len(base) and last.heading_path == ()
    assert last.text == summarizer.inner.summarize(document)
    assert last.index_text.startswith(document.title) and last.index_text.endswith(last.text)
    assert len({c.id for c in chunks}) == len(chunks)


def test_wrappers_refuse_to_wrap_each_other():
    with pytest.raises(ValueError, match="cannot build on 'summary'"):
        create_chunker("contextual", ChunkingConfig(base_strategy="summary"))
    with pytest.raises(ValueError, match="unknown chunking strategy 'sections'"):
        create_chunker("summary", ChunkingConfig(base_strategy="sections"))
