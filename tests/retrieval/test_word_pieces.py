"""Word-piece counts add up across a joining newline for the default (BERT WordPiece) tokenizer, and only
tokenizers of that kind are trusted with it; the embedders' batch counts equal their one-by-one counts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ingest.connectors.sample import SAMPLE_DIR
from retrieval.embedder import resolve_model_path
from retrieval.model_tokenizer import ModelTokenizer
from retrieval.word_pieces import continuation_ids, pieces_add_up

MODEL = Path(resolve_model_path("all-MiniLM-L6-v2"))
SPEC = json.loads((MODEL / "tokenizer.json").read_text(encoding="utf-8"))

# Texts where a tokenizer could join across the newline, or where normalization is not plain ASCII.
HARD = ["", " ", "\n", "\t x \r\n", "Café naïve résumé", "cafe\u0301", "\u0301abc", "e\u0301\u0327", "ＡＢＣ１２３",
        "経費精算", "申請書。", "。", "ｶﾀｶﾅ", "[CLS]", "[SEP] tail", "x" * 300, "y" * 99, "🚀", "a\u200bb", "\x00\x07ctrl",
        "İstanbul", "ß", "ﬁle", "| key | value |", "|---|---|", "- item", "end.", "(", ")", "##", "don't", "1,000.5"]


def real_strings(limit: int = 900) -> list[str]:
    """Lines, paragraphs and pieces of the sample corpus (English, Japanese, tables, lists), plus HARD."""
    out: list[str] = []
    for path in sorted(SAMPLE_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        out += [p for p in text.split("\n\n") if p.strip()]
        out += [line for line in text.splitlines() if line.strip()]
    rng = random.Random(7)
    # Cuts at arbitrary characters: a span can end inside a word, a table row or a Japanese sentence.
    pieces = []
    for s in rng.sample(out, min(len(out), limit // 3)):
        i, j = sorted(rng.randrange(len(s) + 1) for _ in range(2))
        pieces.append(s[i:j])
    return rng.sample(out, max(0, min(len(out), limit - len(pieces) - len(HARD)))) + pieces + HARD


@pytest.fixture(scope="module")
def tokenizer():
    return ModelTokenizer(MODEL, 256)


def test_the_default_tokenizer_adds_up(tokenizer):
    assert pieces_add_up(SPEC) and tokenizer.pieces_add_up
    strings = real_strings()
    assert len(strings) > 800 and any("。" in s for s in strings) and any(s.startswith("|") for s in strings)
    rng = random.Random(14)
    pairs = [(rng.choice(strings), rng.choice(strings)) for _ in range(3000)] + [(a, b) for a in HARD for b in HARD]
    for a, b in pairs:
        assert tokenizer.count(f"{a}\n{b}") == tokenizer.count(a) + tokenizer.count(b) - 2, (a, b)


@pytest.mark.parametrize("change", [
    lambda s: s.update(normalizer={"type": "Sequence", "normalizers": [s["normalizer"]]}),
    lambda s: s.update(pre_tokenizer={"type": "Metaspace", "replacement": "▁"}),
    lambda s: s["model"].update(type="BPE"),
    lambda s: s["post_processor"]["single"].append({"SpecialToken": {"id": "[SEP]", "type_id": 0}}),
    lambda s: s["post_processor"]["special_tokens"]["[CLS]"].update(ids=[101, 102]),
    lambda s: s.update(post_processor=None),
    lambda s: s["added_tokens"].append({"id": 9, "content": "new line", "special": False}),
])
def test_other_tokenizers_are_not_trusted(change):
    spec = json.loads(json.dumps(SPEC))
    change(spec)
    assert not pieces_add_up(spec)
    assert pieces_add_up(json.dumps(SPEC))  # the unchanged spec, as text, still is


def test_batch_counts_equal_single_counts(embedder, tokenizer):
    texts = real_strings(200)
    want = [embedder.count_word_pieces(t) for t in texts]
    assert embedder.count_word_pieces_many(texts) == want
    assert tokenizer.count_many(texts) == want  # the compiled backends' counter
    assert embedder.count_word_pieces_many([]) == [] and tokenizer.count_many([]) == []
    assert embedder.word_pieces_add_up


def documents() -> list[str]:
    """Whole sample documents, and one of the hard strings run together with spaces, newlines and nothing."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_DIR.glob("*.md"))]
    return texts + [" ".join(HARD), "\n".join(HARD), "".join(HARD)]


def test_piece_map_counts_every_span_it_answers_exactly(tokenizer):
    rng = random.Random(21)
    answered = cut_words = 0
    for text in documents():
        pmap = tokenizer.piece_map(text)
        assert pmap.total == tokenizer.count(text)
        # Spans cut anywhere (inside words too) and spans cut at spaces, stripped as the chunker strips them.
        spaces = [i for i, c in enumerate(text) if c.isspace()] or [0]
        for _ in range(60):
            a, b = sorted(rng.randrange(len(text) + 1) for _ in range(2))
            c, d = sorted(rng.choice(spaces) for _ in range(2))
            for start, end in ((a, b), (c, d)):
                raw = text[start:end]
                piece = raw.strip()
                start += len(raw) - len(raw.lstrip())
                n = pmap.count(start, piece)
                if n is None:
                    cut_words += 1
                    continue
                answered += 1
                assert n == tokenizer.count(piece), (start, piece)
        assert pmap.count(1, text) is None  # not where the text is
    assert answered > 2000 and cut_words > 200  # both kinds of span were met


def test_torch_embedder_maps_as_the_compiled_tokenizer_does(embedder, tokenizer):
    text = documents()[3]
    ours, theirs = embedder.word_piece_map(text), tokenizer.piece_map(text)
    assert ours.total == theirs.total == embedder.count_word_pieces(text)
    assert (ours._starts, ours._ends, ours._before) == (theirs._starts, theirs._ends, theirs._before)


def test_only_double_hash_pieces_continue_a_word():
    # "#" is punctuation, a word of its own; only the "##" marker continues the word before it.
    assert continuation_ids({"a": 0, "##b": 1, "#": 2, "##": 4}).tolist() == [False, True, False, False, True]
