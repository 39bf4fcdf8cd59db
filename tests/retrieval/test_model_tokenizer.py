"""The compiled backends' tokenizer: the same ids as the tokenizer's own truncation, one parse for short texts."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import tokenizers

from retrieval.embedder import resolve_model_path
from retrieval.model_tokenizer import ModelTokenizer

MODEL = Path(resolve_model_path("all-MiniLM-L6-v2"))
MAX = 16  # small, so texts on both sides of the limit are easy to write


def reference(max_length: int) -> tokenizers.Tokenizer:
    """What the model is fed: tokenizer.json with its own truncation at ``max_length``, no padding."""
    tok = tokenizers.Tokenizer.from_file(str(MODEL / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def texts_around_the_limit() -> list[str]:
    """Texts of MAX-3 .. MAX+3 pieces with the special tokens, and hard ones: multi-piece words cut at the limit,
    Japanese, accents, emoji, empty."""
    texts = [" ".join(["word"] * n) for n in range(MAX - 5, MAX + 2)]
    texts += ["supercalifragilisticexpialidocious " * 4, "経費精算申請書は領収書の日付から30日以内に提出してください。",
              "Café naïve résumé — Ünïcödé 🚀 façade\u200b", "", "   ", "x" * 300]
    return texts


def test_ids_are_those_of_the_tokenizers_own_truncation():
    model = ModelTokenizer(MODEL, MAX)
    truncating = reference(MAX)
    texts = texts_around_the_limit()
    lengths = {len(ids) for ids in model.encode(texts)}
    assert {MAX - 1, MAX} <= lengths and max(lengths) == MAX  # texts both at and over the limit were checked
    got = model.encode(texts)
    want = [np.asarray(e.ids, dtype=np.int64) for e in truncating.encode_batch(texts)]
    for text, g, w in zip(texts, got, want):
        assert g.dtype == np.int64 and g.tolist() == w.tolist(), text
    # Counting never truncates, whatever encode did before.
    assert model.count(" ".join(["word"] * 40)) == 42


def test_short_texts_parse_tokenizer_json_once(monkeypatch):
    parsed: list[str] = []
    real = tokenizers.Tokenizer

    class CountingTokenizer:
        @staticmethod
        def from_file(path: str):
            parsed.append(path)
            return real.from_file(path)

    monkeypatch.setattr(tokenizers, "Tokenizer", CountingTokenizer)
    model = ModelTokenizer(MODEL, 256)
    model.encode(["How do I set up the VPN?", "経費精算の期限は？"])
    model.count("a question")
    assert len(parsed) == 1  # a cold ask's texts are short: the truncating copy is never parsed
    model.encode(["word " * 300])
    model.encode(["word " * 300, "short"])
    assert len(parsed) == 2  # parsed at the first long text, then kept


def test_threads_counting_and_encoding_at_once_get_the_single_thread_answers():
    """The pipeline counts pieces (chunking) in one thread while another embeds: one shared tokenizer object."""
    model = ModelTokenizer(MODEL, MAX)
    texts = texts_around_the_limit() * 20
    want_ids = [ids.tolist() for ids in model.encode(texts)]
    want_counts = [model.count(t) for t in texts]
    errors: list[BaseException] = []
    results: dict[str, list] = {}

    def run(name, work):
        try:
            results[name] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread's assertion below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(f"encode{i}", lambda: [x.tolist() for x in model.encode(texts)]))
               for i in range(2)]
    workers += [threading.Thread(target=run, args=(f"count{i}", lambda: [model.count(t) for t in texts]))
                for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert all(results[f"encode{i}"] == want_ids for i in range(2))
    assert all(results[f"count{i}"] == want_counts for i in range(2))


def test_a_folder_without_tokenizer_json_is_refused(tmp_path):
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="tokenizer.json"):
        ModelTokenizer(tmp_path, 256)
