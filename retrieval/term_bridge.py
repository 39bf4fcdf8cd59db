"""Offline cross-language queries: a question's terms in the other language, from published term tables.

Without an LLM, an English question cannot find a Japanese page by BM25 (no
shared terms) nor by the default English-only embedder, and the reverse. Two
tables of the general vocabulary, not of any corpus, bridge the two languages:
SudachiDict's synonym groups (``retrieval/build_bilingual.py``) put loanwords
beside their English originals and a few native words for the same thing
(ホテル / hotel, ローテーション / rotation, 事務所 / オフィス / office), and
JMdict's common entries (``retrieval/build_jmdict_bridge.py``) give the native
words with their short English glosses (出張 / business trip, 経費 / expenses,
承認 / approval). ``TermBridge.query`` turns a question into a search query in
the other language: the other-language members of every group a question term
belongs to, plus the tokens both languages write the same way (numbers, ids,
Latin product names). Honest limits: rare words and most compounds are in
neither table (駐輪場, 防災訓練, 有給休暇 are not common JMdict entries), proper
nouns are not translated, and a polysemous word brings its other senses along
(office: 事務所 and 任務; カラー: colour and collar).
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from pathlib import Path

from retrieval.tokenize import ENGLISH_STOP_WORDS, has_japanese, tokenize

logger = logging.getLogger(__name__)

DEFAULT_TABLE = Path(__file__).resolve().parent / "data" / "sudachi_bilingual.tsv.gz"
JMDICT_TABLE = Path(__file__).resolve().parent / "data" / "jmdict_bilingual.tsv.gz"
DEFAULT_TABLES = (DEFAULT_TABLE, JMDICT_TABLE)  # loanwords (SudachiDict), then general vocabulary (JMdict)
_ENGLISH_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_RUNS = re.compile(r"[\u30a0-\u30ffー]{2,}|[\u3400-\u4dbf\u4e00-\u9fff々]{2,}")
# English words that are no topic of their own (beside BM25's stop words): they only bridge to noise.
_ENGLISH_SKIP = ENGLISH_STOP_WORDS | frozenset(
    "what which who whom whose when where why how do does did can could should would may might must need i we you "
    "my our your me us get got much many long often there here about into over under after before not no yes".split()
)
_MAX_ENGLISH_WORDS = 3  # longest English headword matched as a phrase ("air conditioning")
_MIN_JAPANESE_CHARS = 2  # one-character terms (色, 駅) are too ambiguous to bridge from
_MAX_TERMS = 24


class TermBridge:
    """English <-> Japanese term lookup over bilingual groups (SudachiDict's synonym groups, JMdict's entries)."""

    def __init__(self, groups: list[tuple[tuple[str, bool], ...]]) -> None:
        # Kept in the compact form ``load`` reads back from the table cache: each group as its table line
        # ("~" marks a word that may not expand), each trigger headword with its groups' numbers.
        english: dict[str, list[int]] = {}
        japanese: dict[str, list[int]] = {}
        for index, group in enumerate(groups):
            for word, trigger in group:
                if not trigger:  # only headwords that may expand (flag 0) are triggers
                    continue
                if has_japanese(word):
                    japanese.setdefault(word, []).append(index)
                else:
                    english.setdefault(word.lower(), []).append(index)
        self._groups = ["\t".join(w if trigger else "~" + w for w, trigger in group) for group in groups]
        self._english = {w: ",".join(map(str, indexes)) for w, indexes in english.items()}
        self._japanese = {w: ",".join(map(str, indexes)) for w, indexes in japanese.items()}

    @classmethod
    def load(cls, paths: Path | tuple[Path, ...] = DEFAULT_TABLES) -> "TermBridge":
        """The groups of one table or of several, in order (same format: ``retrieval/build_bilingual.py``).

        Parsed once per machine (retrieval/table_cache.py): a new process reads the parsed form back.
        """
        from retrieval.table_cache import load_table

        paths = (paths,) if isinstance(paths, Path) else tuple(paths)
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(
                    f"term table not found: {path} (build it with python -m retrieval.build_bilingual"
                    " or python -m retrieval.build_jmdict_bridge)"
                )

        def parse(sources: tuple[Path, ...]) -> dict:
            groups = []
            for source in sources:
                with gzip.open(source, "rt", encoding="utf-8") as fh:
                    for line in fh:
                        words = [w for w in line.rstrip("\n").split("\t") if w]
                        groups.append(tuple((w.lstrip("~"), not w.startswith("~")) for w in words))
            bridge = cls(groups)
            return {"groups": bridge._groups, "english": bridge._english, "japanese": bridge._japanese}

        table = load_table(paths, "term-bridge", 1, parse)
        bridge = cls.__new__(cls)
        bridge._groups, bridge._english, bridge._japanese = table["groups"], table["english"], table["japanese"]
        return bridge

    def english_words(self) -> list[str]:
        """The table's single-word English headwords (a dictionary for retrieval/respell.py)."""
        return [w for w in self._english if " " not in w]

    def translations(self, question: str) -> list[str]:
        """The other language's headwords for the question's terms, in question order, without repeats."""
        japanese = has_japanese(question)
        per_term = [
            [word for index in groups for word, _ in self._members(index) if has_japanese(word) != japanese]
            for groups in (self._japanese_groups(question) if japanese else self._english_groups(question))
        ]
        # Each term's first translation before any term's second: a term with many (office: 事務所, オフィス,
        # 事業所 ...) must not use up the query's room before a later term (Tokyo) gets any.
        found: list[str] = []
        for rank in range(max(map(len, per_term), default=0)):
            for words in per_term:
                if rank < len(words) and words[rank] not in found:
                    found.append(words[rank])
        return found[:_MAX_TERMS]

    def phrase_translations(self, question: str) -> list[tuple[str, list[str]]]:
        """The English question's multi-word phrases found in the table, each with its Japanese headwords
        ("business trip" -> 出張): what the phrase means together, where its words alone would mean other things."""
        if has_japanese(question):
            return []
        words = [w for w in _ENGLISH_WORD.findall(question.lower()) if w not in _ENGLISH_SKIP]
        found = []
        for n in range(_MAX_ENGLISH_WORDS, 1, -1):
            for i in range(len(words) - n + 1):
                groups = self._english_headword(words[i : i + n])
                japanese = [w for index in groups for w, _ in self._members(index) if has_japanese(w)]
                if japanese:
                    found.append((" ".join(words[i : i + n]), japanese))
        return found

    def query(self, question: str) -> str | None:
        """A search query in the other language, or None when no term of the question could be bridged."""
        words = self.translations(question)
        if not words:
            return None
        shared = [t for t in _ASCII_TOKEN.findall(question) if t not in words and _shared(t, has_japanese(question))]
        return " ".join([*words, *shared])

    def _english_groups(self, question: str) -> list[list[int]]:
        """Per phrase or word of the question found in the table, its groups."""
        words = [w for w in _ENGLISH_WORD.findall(question.lower()) if w not in _ENGLISH_SKIP]
        per_term: list[list[int]] = []
        covered: set[int] = set()  # positions inside a phrase already found: "business trip" is 出張, not 旅 or 躓く
        for n in range(_MAX_ENGLISH_WORDS, 0, -1):  # phrases first: "remote work" before "work"
            for i in range(len(words) - n + 1):
                if covered.issuperset(range(i, i + n)):
                    continue
                found = self._english_headword(words[i : i + n])
                if found:
                    covered.update(range(i, i + n))
                    per_term.append(found)
        return per_term

    def _english_headword(self, words: list[str]) -> list[int]:
        """The groups of a phrase, or else of the phrase with its last word in a dictionary form ("business trips")."""
        found = self._english_indexes(" ".join(words))
        for base in [] if found else _dictionary_forms(words[-1]):
            found = self._english_indexes(" ".join([*words[:-1], base]))
            if found:
                break
        return found

    def _japanese_groups(self, question: str) -> list[list[int]]:
        # Sudachi's shortest terms (normalized: 取る for 取り) and each whole katakana or kanji run
        # (リモートワーク in リモートワーク手当). Never a piece of a run: リリー inside リリース is not "lily".
        candidates = [t for t in tokenize(question) if has_japanese(t)] + _RUNS.findall(question)
        per_term = [self._japanese_indexes(t) for t in dict.fromkeys(candidates) if len(t) >= _MIN_JAPANESE_CHARS]
        return [indexes for indexes in per_term if indexes]

    # The only readers of the lookup tables: the compact layout ``__init__`` describes, decoded per lookup.
    def _members(self, index: int) -> list[tuple[str, bool]]:
        """Group ``index`` as (word, may trigger) pairs."""
        return [(w[1:], False) if w.startswith("~") else (w, True) for w in self._groups[index].split("\t") if w]

    def _english_indexes(self, headword: str) -> list[int]:
        return _numbers(self._english.get(headword))

    def _japanese_indexes(self, headword: str) -> list[int]:
        return _numbers(self._japanese.get(headword))


def _numbers(joined: str | None) -> list[int]:
    return [int(n) for n in joined.split(",")] if joined else []


def _dictionary_forms(word: str) -> list[str]:
    """What an inflected English word may be listed as (receipts -> receipt, approved -> approve, planned -> plan):
    tried only when the word itself is no headword, so "news" or "evening" never become "new" or "even"."""
    forms = []
    if word.endswith("ies") or word.endswith("ied"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
    for suffix in ("ed", "ing"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix):
            forms += [stem + "e", stem] + ([stem[:-1]] if len(stem) > 2 and stem[-1] == stem[-2] else [])
    return [f for f in forms if len(f) >= 3]


def _shared(token: str, in_japanese: bool) -> bool:
    """Written the same in both languages: any Latin token inside Japanese; in English, numbers and ids (INC-2026-014,
    HoshiOS, VPN), not ordinary words."""
    if in_japanese:
        return True
    return any(c.isdigit() for c in token) or sum(c.isupper() for c in token) >= 2


class LazyTermBridge:
    """The shipped tables, loaded at the first question that needs them: start-up stays fast."""

    def query(self, question: str) -> str | None:
        bridge = default_bridge()
        return bridge.query(question) if bridge is not None else None


_DEFAULT: list[TermBridge | None] = []  # empty until loaded; then the tables, or None when one is missing
_DEFAULT_LOCK = threading.Lock()


def default_bridge() -> TermBridge | None:
    """The shipped tables, loaded once; None (cross-language bridging off) when one is missing.

    Locked: `kura ask` loads the tables in one thread while the model loads in another (bots/cli/main.py), and
    every caller must get the same one, loaded once.
    """
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            try:
                _DEFAULT.append(TermBridge.load())
            except (OSError, ValueError) as exc:
                logger.warning("offline cross-language bridging is off: %s", exc)
                _DEFAULT.append(None)
        return _DEFAULT[0]
