"""Names a question asks about that the documents never mention: "the Rhein meeting room", "our Amsterdam office".

A near miss keeps the topic and changes the name (the Berlin rooms are Spree, Havel and Elbe), so every
retrieved sentence is about the right kind of thing and only the name is missing. When no document the asker
may read mentions the name, in any language, the documents cannot answer, however close their topic: the
question gets "not found", as an unknown identifier (CC-600) does (chat/answerability.py).

A name is known when a retrieved chunk holds it or a form of it (accents aside: Beyonce is Beyoncé; German is
Germany; Manhatten is a slip of Manhattan), when the term tables
translate it into a word of the chunks, when it is the romanised reading of a Japanese word of the chunks (Fuji
is 富士, read フジ), or when the index finds it in a chunk the asker may read. Weekday and month names are no names.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Sequence

from core.types import ScoredChunk
from retrieval.respell import within_edits
from retrieval.tokenize import has_japanese, tokenize

# Capitalised inside the question (not its first word): a name. Words with digits are identifiers (another rule).
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:[A-Z][a-z]+)*\b")
_NOT_NAMES = frozenset(
    "i i'm what when where which who whom whose why how is are do does can could should would will may "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december".split()
)


def question_names(question: str) -> list[str]:
    text = unicodedata.normalize("NFKC", question).strip()
    return list(dict.fromkeys(w for w in _NAME.findall(text) if w.lower() not in _NOT_NAMES))


def fold(text: str) -> str:
    """Lower case without accents: Beyoncé and Beyonce, Köpenicker and Kopenicker meet."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def unknown_names(
    question: str,
    chunks: Sequence[ScoredChunk],
    *,
    translations: Callable[[str], frozenset[str]],
    mentioned: Callable[[str], bool],
) -> tuple[str, ...]:
    """The question's names that neither the chunks nor (``mentioned``) any readable document hold.

    ``translations(term)`` gives a BM25 term's other-language words (the term bridge); ``mentioned(name)``
    asks the index about the asker's readable chunks (looked up only for a name no retrieved chunk holds).
    """
    names = question_names(question)
    if not names or not chunks:
        return ()
    texts = [fold(c.chunk.title + "\n" + c.chunk.text) for c in chunks]
    words = {w for t in texts for w in _LATIN_WORD.findall(t)}
    missing = [n for n in names if not any(_resembles(fold(n), w) for w in words)]
    if not missing:
        return ()
    chunk_terms = set().union(*(tokenize(c.chunk.title + "\n" + c.chunk.text) for c in chunks))
    readings = _readings([c.chunk.title + "\n" + c.chunk.text for c in chunks])
    unknown = []
    for name in missing:
        terms = tokenize(name)
        if any(translations(t) & chunk_terms for t in terms):
            continue
        if _plain_romaji(name) in readings:
            continue
        if mentioned(name):
            continue
        unknown.append(name)
    return tuple(unknown)


_LATIN_WORD = re.compile(r"[a-z]+")


def _resembles(name: str, word: str) -> bool:
    """The chunk's word is the name, a form of it (German for Germany, Bangladeshi, Albanian for Albanians) or the
    name with a typing slip (Manhatten): only an unrelated name is no match."""
    if name == word:
        return True
    if len(name) < 5 or len(word) < 4:
        return False
    shared = len(os.path.commonprefix([name, word]))
    form = shared >= len(name) - 1 and len(word) <= len(name) + 2  # an ending changed, added or dropped
    return form or within_edits(name, word, 1 if len(name) < 8 else 2)


def _readings(texts: Sequence[str]) -> set[str]:
    from retrieval.tokenize import japanese_readings

    found: set[str] = set()
    for text in texts:
        if has_japanese(text):
            found |= {_plain_romaji(romaji(r)) for r in japanese_readings(text)}
    return found


# --- katakana to Hepburn romaji ------------------------------------------------------------------
_KANA = dict(
    zip(
        "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
        "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポァィゥェォヴ",
        "a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo "
        "ya yu yo ra ri ru re ro wa o n ga gi gu ge go za ji zu ze zo da ji zu de do ba bi bu be bo pa pi pu pe po "
        "a i u e o vu".split(),
    )
)
_SMALL_Y = {"ャ": "a", "ュ": "u", "ョ": "o"}


def romaji(katakana: str) -> str:
    """Hepburn romanisation of a katakana reading (キョウト -> kyouto, ホッカイドウ -> hokkaidou)."""
    out: list[str] = []
    double = False
    for ch in katakana:
        if ch == "ッ":
            double = True
            continue
        if ch in _SMALL_Y and out:
            previous = out.pop()  # キ + ョ -> kyo, シ + ャ -> sha
            stem = previous[:-1] if previous.endswith("i") else previous
            out.append(stem + ("" if stem.endswith(("sh", "ch", "j")) else "y") + _SMALL_Y[ch])
            continue
        if ch == "ー":
            out.append(out[-1][-1] if out else "")
            continue
        syllable = _KANA.get(ch, "")
        if double and syllable:
            syllable = ("t" if syllable.startswith("ch") else syllable[0]) + syllable
        double = False
        out.append(syllable)
    return "".join(out)


def _plain_romaji(text: str) -> str:
    """Romaji as English writes names, long vowels dropped (Tōkyō, Toukyou and Tokyo are one)."""
    text = fold(text)
    text = re.sub(r"ou", "o", text)
    return re.sub(r"([aeiou])\1+", r"\1", text)
