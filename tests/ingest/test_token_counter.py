"""TokenCounter: the joined count of a prefix and a text, by addition only where the embedder says counts add
up, and remembered counts that stay right when the memory fills."""

from __future__ import annotations

import random

from ingest.chunking.base import TokenCounter, fit_prefix
from ingest.connectors.sample import SAMPLE_DIR


def sample_strings() -> list[str]:
    lines = [line for p in sorted(SAMPLE_DIR.glob("*.md")) for line in p.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(3)
    return rng.sample([line for line in lines if line.strip()], 150) + ["", "経費精算。", "| a | b |", "Café"]


def test_joined_pieces_equal_the_count_of_the_joined_text(embedder):
    counter = TokenCounter("cl100k_base", embedder.count_word_pieces)
    strings = sample_strings()
    rng = random.Random(5)
    for prefix, text in [(rng.choice(strings), rng.choice(strings)) for _ in range(400)]:
        assert counter.joined_pieces(prefix, text) == embedder.count_word_pieces(f"{prefix}\n{text}"), (prefix, text)
    assert counter._adds_up  # the shortcut was the one checked


def test_a_counter_that_does_not_say_it_adds_up_counts_the_joined_text():
    # A plain function has no embedder behind it: adding its parts' counts (2 + 2 - 2) would be wrong here.
    counter = TokenCounter("cl100k_base", len)
    assert counter.joined_pieces("ab", "cd") == len("ab\ncd")
    assert fit_prefix(counter, "title", "x" * 10, limit=16) == "title"
    assert fit_prefix(counter, "title", "x" * 11, limit=16) == ""  # 17 characters joined; added up, 14


def test_remembered_counts_stay_right_when_the_memory_fills(embedder):
    counter = TokenCounter("cl100k_base", embedder.count_word_pieces)
    counter._tokens.budget = counter._pieces.budget = 500
    strings = sample_strings()
    for _ in range(2):  # the second pass reads remembered counts
        for s in strings:
            assert counter.tokens(s) == len(counter._enc.encode(s, disallowed_special=()))
            assert counter.model_pieces(s) == embedder.count_word_pieces(s)
    for remembered in (counter._tokens, counter._pieces):
        assert remembered.chars == sum(map(len, remembered.counts)) <= 500 and remembered.counts


def test_windows_are_counted_from_the_map_or_by_the_counter(embedder):
    counter = TokenCounter("cl100k_base", embedder.count_word_pieces)
    text = "Expense reports are due within thirty days. 経費精算申請書は30日以内に提出してください。"
    pmap = counter.piece_map(text)
    assert pmap is not None and pmap.total == counter.model_pieces(text) == embedder.count_word_pieces(text)
    for start, piece in [(0, "Expense reports"), (8, "reports are"), (3, "ense rep"), (44, "経費精算申請書")]:
        assert counter.pieces_at(pmap, start, piece) == embedder.count_word_pieces(piece), piece
    assert TokenCounter("cl100k_base", len).piece_map(text) is None  # no embedder behind it: count each window
