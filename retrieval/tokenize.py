"""Word tokenization for BM25, for English and Japanese.

Japanese has no spaces, so text with Japanese characters goes through Sudachi
(a real morphological analyser, core dictionary). We use its shortest split
(mode A) so a word inside a long compound (経費精算申請 -> 経費 / 精算 / 申請) is a
term of its own, and its normalized form so spelling variants meet. Particles,
auxiliaries and symbols are dropped: they are the Japanese stop words.

Other text is lowercased and split on non-word characters.
"""

from __future__ import annotations

import re
import threading
import unicodedata

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Sudachi refuses inputs over ~49 KB; we feed it line groups well under that.
_SUDACHI_MAX_CHARS = 12000
_DROP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}

# Short, conservative English stop list: BM25's IDF already discounts common
# words; these only cost index size and query time.
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with".split()
)

_local = threading.local()


def has_japanese(text: str) -> bool:
    return _JAPANESE.search(text) is not None


def _sudachi():
    """One Sudachi tokenizer per thread (they are not thread-safe), created on first use."""
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        from sudachipy import Dictionary

        tok = Dictionary(dict="core").create()
        _local.tokenizer = tok
    return tok


def _latin_tokens(text: str) -> list[str]:
    return [t for t in _WORD.findall(text.lower()) if t not in ENGLISH_STOP_WORDS]


def _japanese_tokens(text: str) -> list[str]:
    from sudachipy import SplitMode

    tokenizer = _sudachi()
    out: list[str] = []
    for piece in _pieces(text, _SUDACHI_MAX_CHARS):
        for m in tokenizer.tokenize(piece, SplitMode.A):
            if m.part_of_speech()[0] in _DROP_POS:
                continue
            surface = m.normalized_form() if has_japanese(m.surface()) else m.surface()
            out.extend(_latin_tokens(surface) if not has_japanese(surface) else [surface])
    return out


def _pieces(text: str, limit: int):
    """Split text into pieces under ``limit`` characters, at line ends where possible."""
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        yield text[:cut]
        text = text[cut:]
    if text:
        yield text


def tokenize(text: str) -> list[str]:
    """BM25 terms of a text, in order (duplicates kept: term frequency matters)."""
    text = unicodedata.normalize("NFKC", text)
    if has_japanese(text):
        return _japanese_tokens(text)
    return _latin_tokens(text)


def japanese_proper_nouns(text: str) -> list[str]:
    """Sudachi's proper nouns (places, people, organisations) in ``text``, normalized: 名古屋, 東京, ベルリン."""
    from sudachipy import SplitMode

    text = unicodedata.normalize("NFKC", text)
    return [
        m.normalized_form()
        for piece in _pieces(text, _SUDACHI_MAX_CHARS)
        for m in _sudachi().tokenize(piece, SplitMode.A)
        if m.part_of_speech()[1] == "固有名詞"
    ]


def japanese_readings(text: str) -> list[str]:
    """Sudachi's katakana readings of the content words in ``text``: 精算 and 生産 both read セイサン, 期限 and
    きげん both キゲン, so a question typed by sound or with the wrong kanji still meets its words."""
    from sudachipy import SplitMode

    text = unicodedata.normalize("NFKC", text)
    return [
        m.reading_form()
        for piece in _pieces(text, _SUDACHI_MAX_CHARS)
        for m in _sudachi().tokenize(piece, SplitMode.A)
        if m.part_of_speech()[0] not in _DROP_POS and has_japanese(m.surface()) and len(m.reading_form()) >= 2
    ]


_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")


def kanji_stem(word: str) -> str:
    """The word's kanji alone when it has two or more: 繰り越し, 繰越 and 繰り越す are all 繰越, 振込 and 振り込む 振込.

    Japanese writes the same word with or without its okurigana (the kana between and after the kanji), and as a
    noun or a verb; Sudachi normalises the nouns (振込 -> 振り込み) but splits a compound verb into its parts
    (振り込まれます -> 振る / 込む), so the noun and the verb only meet by their kanji. "" for fewer than two kanji.
    """
    stem = "".join(_KANJI.findall(word))
    return stem if len(stem) >= 2 else ""


def japanese_stems(text: str) -> list[str]:
    """``kanji_stem`` of each whole word in ``text`` (Sudachi's longest split, so a compound verb stays one word)."""
    from sudachipy import SplitMode

    text = unicodedata.normalize("NFKC", text)
    stems = (
        kanji_stem(m.normalized_form())
        for piece in _pieces(text, _SUDACHI_MAX_CHARS)
        for m in _sudachi().tokenize(piece, SplitMode.C)
        if m.part_of_speech()[0] not in _DROP_POS
    )
    return [s for s in stems if s]
