"""Calendar months named in a question or a document, read as one unit (2027年4月 = April 2027 = 2027-04).

A near miss on a date keeps the topic and changes the month or the year: "the Tokyo pay date in April 2027"
against a calendar listing 2026年4月 and 2027年3月. Read term by term, the calendar holds both "2027" and "4月",
so the question looks covered; read as months, it holds no April 2027. ``missing_months`` is that check: the
months a question names that none of the retrieved texts holds, when those texts date their facts by month at
all (a page that says "paid on the 25th of every month" dates nothing, and may still answer).

A range (2026年4月〜2027年3月, April 2026 to March 2027) holds every month between its ends.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_MONTH_NAMES = {
    name: i + 1
    for i, names in enumerate(
        ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug",
         "september sept sep", "october oct", "november nov", "december dec")
    )
    for name in names.split()
}
_NAME = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
_CAPITAL = "|".join(sorted((n.capitalize() for n in _MONTH_NAMES), key=len, reverse=True))
_YEAR = r"(1[5-9]\d\d|20\d\d)"
# Each alternative captures (year, month) or (month name, year).
_WRITTEN = [
    (re.compile(rf"{_YEAR}\s*年\s*(\d{{1,2}})\s*月"), "ym"),  # 2027年4月
    # April 2027, Apr. 8, 2027, 8 April 2027 (the day before the month is simply not read)
    (re.compile(rf"\b({_NAME})\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?{_YEAR}\b", re.IGNORECASE), "ny"),
    (re.compile(rf"(?<![\d-]){_YEAR}[-/](\d{{1,2}})[-/]\d{{1,2}}(?![\d-])"), "ym"),  # 2027-04-01, 2027/4/1
]
# In documents only: a bare 2027-04 or 2027/04 (a table's month column). In a question "2013-14" is a season.
_YEAR_MONTH = re.compile(rf"(?<![\d-]){_YEAR}[-/](0[1-9]|1[0-2])(?![\d-])")
# In documents only: a month written without its year ("1月22日までに", "on 8 December") belongs to the year the
# text last named, or the next one once the months wrap around ("2017年12月 ... 1月22日" is January 2018).
# An English month name needs a capital and a day beside it (the modal "may" is no month).
_NO_YEAR = [
    (re.compile(r"(\d{1,2})\s*月"), "m"),  # inside 2027年4月 it is the same month, read once (below)
    (re.compile(rf"\b({_CAPITAL})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+({_CAPITAL})\b"), "n"),
]
# What may stand between the two ends of a range.
_RANGE_JOIN = re.compile(r"^\s*(?:[〜~～\-–—]|to|until|till|through|thru|から)\s*$", re.IGNORECASE)


def _found(text: str, *, document: bool) -> list[tuple[int, int, tuple[int, int]]]:
    """(start, end, (year, month)) of every month written in ``text``, in order."""
    text = unicodedata.normalize("NFKC", text)
    found = []
    patterns = _WRITTEN + ([(_YEAR_MONTH, "ym"), *_NO_YEAR] if document else [])
    for pattern, order in patterns:
        for m in pattern.finditer(text):
            if order == "ym":
                year, month = int(m.group(1)), int(m.group(2))
            elif order == "ny":
                year, month = int(m.group(2)), _MONTH_NAMES[m.group(1).lower()]
            elif order == "m":
                year, month = 0, int(m.group(1))  # 0: the year is the one the text last named
            else:
                year, month = 0, _MONTH_NAMES[(m.group(1) or m.group(2)).lower()]
            if 1 <= month <= 12:
                found.append((m.start(), m.end(), (year, month)))
    found.sort(key=lambda item: (item[0], -item[1]))
    # Overlapping readings of the same characters (2027-04-01 is also "2027-04", 2027年4月 also "4月") count once,
    # the longest reading first.
    kept: list[tuple[int, int, tuple[int, int]]] = []
    last: tuple[int, int] | None = None
    for start, end, (year, month) in found:
        if kept and start < kept[-1][1]:
            continue
        if not year:
            if last is None:
                continue  # no year named yet: which year is unknown
            year = last[0] + 1 if month < last[1] else last[0]
        last = (year, month)
        kept.append((start, end, last))
    return kept


def asked_months(question: str) -> list[tuple[int, int]]:
    """The (year, month) pairs a question names."""
    return list(dict.fromkeys(ym for _, _, ym in _found(question, document=False)))


def held_months(text: str) -> set[tuple[int, int]]:
    """The (year, month) pairs a text holds, each range filled in between its ends."""
    found = _found(text, document=True)
    months = {ym for _, _, ym in found}
    norm = unicodedata.normalize("NFKC", text)
    for (_, end, first), (start, _, last) in zip(found, found[1:]):
        if first < last and _RANGE_JOIN.match(norm[end:start]):
            months.update(_between(first, last))
    return months


def _between(first: tuple[int, int], last: tuple[int, int]) -> Iterable[tuple[int, int]]:
    year, month = first
    while (year, month) <= last and year - first[0] <= 10:  # a decade at most: no run-away ranges
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def missing_months(question: str, texts: Iterable[str]) -> list[tuple[int, int]]:
    """The months the question names that none of ``texts`` holds; [] when the texts date nothing by month."""
    asked = asked_months(question)
    if not asked:
        return []
    held: set[tuple[int, int]] = set()
    for text in texts:
        held |= held_months(text)
    if not held:
        return []
    return [ym for ym in asked if ym not in held]


# --- years ---------------------------------------------------------------------------------------
def is_year(term: str) -> bool:
    """Whether a question's term is a year (1500-2099 written alone: "2027", not "9.0" or "600")."""
    return term.isdigit() and len(term) == 4 and 1500 <= int(term) <= 2099

