"""Offline cross-language queries: a question's terms in the other language, from a published term table.

Without an LLM, an English question cannot find a Japanese page by BM25 (no
shared terms) nor by the default English-only embedder, and the reverse. What
the two languages share in a company's documents are loanwords, their English
originals and a few native words for the same thing: ホテル / hotel,
ローテーション / rotation, 事務所 / オフィス / office. SudachiDict's synonym
groups (``retrieval/build_bilingual.py``) list exactly these, for the general
vocabulary, not for any corpus. ``TermBridge.query`` turns a question into a
search query in the other language: the other-language members of every group a
question term belongs to, plus the tokens both languages write the same way
(numbers, ids, Latin product names). Honest limits: a term without a group
(出張, 駐輪場, 防災訓練, most compounds and proper nouns) is not bridged, and
an ambiguous group (カラー: colour and collar) brings its noise along.
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
    """English <-> Japanese term lookup over SudachiDict's bilingual synonym groups."""

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
    def load(cls, path: Path = DEFAULT_TABLE) -> "TermBridge":
        """The table in ``path``, parsed once per machine (retrieval/table_cache.py): ~40 ms instead of ~250."""
        if not path.is_file():
            raise FileNotFoundError(f"term table not found: {path} (build it with python -m retrieval.build_bilingual)")
        from retrieval.table_cache import load_table

        def parse(source: Path) -> dict:
            groups = []
            with gzip.open(source, "rt", encoding="utf-8") as fh:
                for line in fh:
                    words = [w for w in line.rstrip("\n").split("\t") if w]
                    groups.append(tuple((w.lstrip("~"), not w.startswith("~")) for w in words))
            bridge = cls(groups)
            return {"groups": bridge._groups, "english": bridge._english, "japanese": bridge._japanese}

        table = load_table(path, "term-bridge", 1, parse)
        bridge = cls.__new__(cls)
        bridge._groups, bridge._english, bridge._japanese = table["groups"], table["english"], table["japanese"]
        return bridge

    def _members(self, index: int) -> list[tuple[str, bool]]:
        """Group ``index`` as (word, may trigger) pairs."""
        return [(w[1:], False) if w.startswith("~") else (w, True) for w in self._groups[index].split("\t") if w]

    def translations(self, question: str) -> list[str]:
        """The other language's headwords for the question's terms, in question order, without repeats."""
        japanese = has_japanese(question)
        found: list[str] = []
        for index in self._japanese_groups(question) if japanese else self._english_groups(question):
            for word, _ in self._members(index):
                if has_japanese(word) != japanese and word not in found:
                    found.append(word)
        return found[:_MAX_TERMS]

    def query(self, question: str) -> str | None:
        """A search query in the other language, or None when no term of the question could be bridged."""
        words = self.translations(question)
        if not words:
            return None
        shared = [t for t in _ASCII_TOKEN.findall(question) if t not in words and _shared(t, has_japanese(question))]
        return " ".join([*words, *shared])

    def _english_groups(self, question: str) -> list[int]:
        words = [w for w in _ENGLISH_WORD.findall(question.lower()) if w not in _ENGLISH_SKIP]
        indexes: list[int] = []
        for n in range(_MAX_ENGLISH_WORDS, 0, -1):  # phrases first: "remote work" before "work"
            for i in range(len(words) - n + 1):
                for index in _numbers(self._english.get(" ".join(words[i : i + n]))):
                    if index not in indexes:
                        indexes.append(index)
        return indexes

    def _japanese_groups(self, question: str) -> list[int]:
        # Sudachi's shortest terms (normalized: 取る for 取り) and each whole katakana or kanji run
        # (リモートワーク in リモートワーク手当). Never a piece of a run: リリー inside リリース is not "lily".
        candidates = [t for t in tokenize(question) if has_japanese(t)] + _RUNS.findall(question)
        indexes: list[int] = []
        for term in candidates:
            if len(term) < _MIN_JAPANESE_CHARS:
                continue
            for index in _numbers(self._japanese.get(term)):
                if index not in indexes:
                    indexes.append(index)
        return indexes


def _numbers(joined: str | None) -> list[int]:
    return [int(n) for n in joined.split(",")] if joined else []


def _shared(token: str, in_japanese: bool) -> bool:
    """Written the same in both languages: any Latin token inside Japanese; in English, numbers and ids (INC-2026-014,
    HoshiOS, VPN), not ordinary words."""
    if in_japanese:
        return True
    return any(c.isdigit() for c in token) or sum(c.isupper() for c in token) >= 2


class LazyTermBridge:
    """The shipped table, loaded at the first question that needs it: start-up stays fast."""

    def query(self, question: str) -> str | None:
        bridge = default_bridge()
        return bridge.query(question) if bridge is not None else None


_DEFAULT: list[TermBridge | None] = []  # empty until loaded; then the table, or None when it is missing
_DEFAULT_LOCK = threading.Lock()


def default_bridge() -> TermBridge | None:
    """The shipped table, loaded once; None (cross-language bridging off) when it is missing.

    Locked: `kura ask` loads the tables in a second thread while the first starts answering (bots/cli/main.py),
    and both must get the same one loaded once.
    """
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            try:
                _DEFAULT.append(TermBridge.load())
            except (OSError, ValueError) as exc:
                logger.warning("offline cross-language bridging is off: %s", exc)
                _DEFAULT.append(None)
        return _DEFAULT[0]
