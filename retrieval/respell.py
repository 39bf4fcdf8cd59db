"""Typing slips in a query, corrected against the index: "pasword min lenght" searches for "password min length".

A slip defeats both halves of hybrid search: BM25 has no document with "pasword", and the embedder reads it as
word-pieces it never saw together. People type short, hurried questions, so Kura corrects a word when

- it is not an English word of the dictionary (the term bridge's English headwords, ~20k words, corpus-free) nor
  a regular inflection of one (planes, featuring), and not capitalised inside the query (a name),
- the index holds it in no chunk the asker may read (a company's own words, Okta or Jamf, are left alone), and
- a dictionary word one slip away (two for words of 8 letters or more; same first letter) is in such a chunk;
  among several, the most used in those chunks wins.

Only Latin words of 4 letters or more are considered: short words and numbers are too often meant as typed.
A query of dictionary words costs nothing; any other word costs one count in the index (a BM25 query on one
term, limit 50, with the asker's permission filter), and a slip one more per dictionary word near it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from retrieval.tokenize import tokenize

_WORD = re.compile(r"(?<![\w-])[A-Za-z]{4,}(?![\w-])")
_LONG = 8  # from this many letters on, two slips are allowed
# Regular English endings and what the headword ends with instead: planes -> plane, tries -> try, featuring ->
# feature, stopped -> stop (a doubled consonant is checked separately).
_INFLECTIONS = (
    ("ies", ("y",)), ("ied", ("y",)), ("es", ("", "e")), ("s", ("",)), ("ed", ("", "e")), ("ing", ("", "e")),
    ("ers", ("", "e")), ("er", ("", "e")), ("ly", ("", "le")),
)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_edits(a: str, b: str, limit: int) -> bool:
    """Optimal string alignment distance (edits and swaps of neighbours) of a and b is at most ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous2, previous = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if previous2 is not None and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1] <= limit


@functools.cache
def default_respeller() -> "Respeller":
    """One per process: the dictionary's deletion keys take ~0.3 s and ~30 MB to build."""
    return Respeller.from_term_bridge()


class Respeller:
    """Dictionary words a slip away from a typed word, found through their one-letter deletions."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(w.lower() for w in words if w.isascii() and w.isalpha())
        # A word and each of its one-letter deletions point to it: two words one or two slips apart share a key
        # (sesion -> "sesion", session -> "sesion"; lenght and length share "lengt").
        self._by_key: dict[str, list[str]] = {}
        for word in self.words:
            if len(word) < 3:
                continue  # a typed word of 4+ letters is never one slip from a word of 2
            for key in {word} | _deletions(word):
                self._by_key.setdefault(key, []).append(word)

    @classmethod
    def from_term_bridge(cls) -> "Respeller":
        from retrieval.term_bridge import TermBridge

        return cls(TermBridge.load().english_words())

    def known(self, word: str) -> bool:
        """A dictionary word or a regular inflection of one (plays, planes, writes, reprised, featuring, actors):
        the dictionary lists headwords only."""
        word = word.lower()
        if word in self.words:
            return True
        for suffix, endings in _INFLECTIONS:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                stem = word[: -len(suffix)]
                if any(stem + e in self.words for e in endings) or (stem[-1:] == stem[-2:-1] and stem[:-1] in self.words):
                    return True
        return False

    def candidates(self, typed: str) -> list[str]:
        typed = typed.lower()
        limit = 1 if len(typed) < _LONG else 2
        found = {w for key in {typed} | _deletions(typed) for w in self._by_key.get(key, ())}
        return sorted(w for w in found if w != typed and w[0] == typed[0] and within_edits(typed, w, limit))

    def respell(self, query: str, chunks_with: Callable[[str], int]) -> str:
        """The query with each slip replaced; ``chunks_with(term)`` counts the readable chunks holding a BM25 term."""

        def replace(match: re.Match) -> str:
            typed = match.group(0)
            if self.known(typed) or (typed[0].isupper() and match.start() > 0):
                return typed  # a capitalised word inside the query is a name: no dictionary spells it
            terms = tokenize(typed)
            if len(terms) != 1 or chunks_with(terms[0]) > 0:
                return typed  # a stop word, or a word the documents use: meant as typed
            best, most = typed, 0
            for word in self.candidates(typed):
                word_terms = tokenize(word)
                count = chunks_with(word_terms[0]) if len(word_terms) == 1 else 0
                if count > most:
                    best, most = word, count
            return best

        return _WORD.sub(replace, query)
