"""Things a question asks about that the documents never name: a version, or a Japanese compound's part.

Two near-miss shapes that the identifier and name rules (``chat/answerability.py``, ``chat/names.py``) do not see:

- **A version the documents never mention.** "Who is the release manager for HoshiOS 7.5?" where the release
  calendar lists 7.3 and 7.4: every retrieved sentence is about a HoshiOS release, only the version is new, and
  "7.5" is no identifier (it starts with a digit) nor a name. A version is a dotted number after a product's
  name or after "v" / "version" / "バージョン".
- **A Japanese compound noun with a part no readable document has.** 介護休業 (nursing-care leave) where the
  corpus has 育児休業 (childcare leave), 住宅手当 where it has リモートワーク手当, 退職金, リフレッシュ休暇: Japanese
  builds the name of a benefit, a place or a rule from nouns written together, a near miss keeps the head
  (休業, 手当, 休暇) and changes the modifier, and the modifier appears in no document. The head must be among
  the retrieved chunks (the topic is there); a part that any candidate holds in another form (a synonym, a
  translation, the same reading, a kanji stem) is not missing: 経費生産 is a typing slip of 経費精算 (both read
  セイサン), not an unknown thing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from retrieval.tokenize import has_japanese

# "HoshiOS 7.5", "Hoshi Connect 5.0", "iOS 17.2", "v2.3", "version 4.2", "バージョン 4.2".
_VERSION = re.compile(
    r"(?:\b[A-Z][A-Za-z]*(?:\s+[A-Z][A-Za-z]*)?\s+|\b[vV](?:ersion)?\s*|バージョン\s*)(\d+(?:\.\d+)+)(?![\d.]*\d)"
)


def versions(question: str) -> list[tuple[str, str]]:
    """The question's versions as (whole mention, number): ("HoshiOS 7.5", "7.5")."""
    text = unicodedata.normalize("NFKC", question)
    return [(m.group(0).strip(), m.group(1)) for m in _VERSION.finditer(text)]


def _compact(text: str) -> str:
    return re.sub(r"[^0-9a-z.]", "", unicodedata.normalize("NFKC", text).lower())


def unknown_versions(question: str, texts: Iterable[str], mentioned: Callable[[str], bool]) -> tuple[str, ...]:
    """Versions that no retrieved text holds after the same name and that no readable document mentions.

    ``mentioned(mention)`` asks the index (the asker's readable chunks) for the whole mention, "HoshiOS 7.5".
    """
    found = versions(question)
    if not found:
        return ()
    compact = [_compact(t) for t in texts]
    unknown = []
    for mention, number in found:
        wanted = _compact(mention)
        # "HoshiOS 7.5" held as "HoshiOS 7.5" or in a row that names the version alone ("Version: 7.5") counts.
        if any(wanted in t for t in compact) or any(re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)", t) for t in texts):
            continue
        if mentioned(mention):
            continue
        unknown.append(mention)
    return tuple(unknown)


# Nouns written together name one thing (介護休業, 住宅手当, 退職金); a numeral (何, 3) or a proper noun ends the
# compound's common-noun part (東京オフィス is a place and its office, not a kind of office: the name rules cover it).
_COMPOUND_POS = {("名詞", "普通名詞"), ("接尾辞", "名詞的"), ("接頭辞", "*")}
# Question words Sudachi reads as common nouns: "いくら支給されますか" asks how much, it names no いくら支給.
_ASKING = frozenset({"幾ら", "幾つ", "いつ頃", "何時", "何処", "何故", "如何"})


def japanese_compounds(text: str) -> list[tuple[tuple[str, str], ...]]:
    """Runs of two or more common nouns (with prefixes and noun suffixes) written together, each part as its BM25
    term and its surface: ((介護, 介護), (休業, 休業))."""
    if not has_japanese(text):
        return []
    from sudachipy import SplitMode

    from retrieval.tokenize import _sudachi

    text = unicodedata.normalize("NFKC", text)
    runs: list[tuple[tuple[str, str], ...]] = []
    current: list[tuple[str, str]] = []
    for m in _sudachi().tokenize(text, SplitMode.A):
        pos = tuple(m.part_of_speech()[:2])
        if pos in _COMPOUND_POS and has_japanese(m.surface()) and m.normalized_form() not in _ASKING:
            current.append((m.normalized_form(), m.surface()))
            continue
        if len(current) >= 2:
            runs.append(tuple(current))
        current = []
    if len(current) >= 2:
        runs.append(tuple(current))
    return runs


_WRITTEN_TOGETHER = r"[\u3005\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff]"  # a kanji or katakana just before


def unknown_compounds(
    question: str,
    texts: Sequence[str],
    held: Callable[[str], bool],
    in_corpus: Callable[[str], bool],
) -> tuple[str, ...]:
    """The question's compounds whose head the candidates hold, also after another modifier, while a modifier of
    the question's is in no readable document: 介護休業 when the candidates say 育児休業 and no document says 介護.

    ``texts``: the candidates' text; ``held(term)``: a candidate holds the term or a form of it (synonym,
    translation, reading, kanji stem); ``in_corpus(term)``: any chunk the asker may read holds it (asked only
    for a modifier no candidate holds). A one-character head (代, 金, 地) is too general to tell a sibling by.
    """
    unknown = []
    for compound in japanese_compounds(question):
        while len(compound) > 2 and len(compound[-1][1]) == 1:
            compound = compound[:-1]  # a trailing suffix (中, 等, 用) qualifies the compound, it is not its head
        head_term, head = compound[-1]
        if len(head) < 2 or not held(head_term):
            continue
        modifiers = [term for term, _ in compound[:-1]]
        absent = [t for t in modifiers if len(t) >= 2 and not held(t) and not in_corpus(t)]
        if not absent:
            continue
        # The sibling: the head written after some other word (育児休業, リモートワーク手当), not alone.
        modifier = compound[-2][1]
        sibling = re.compile(rf"{_WRITTEN_TOGETHER}(?<!{re.escape(modifier)}){re.escape(head)}")
        if any(sibling.search(unicodedata.normalize("NFKC", t)) for t in texts):
            unknown.append("".join(surface for _, surface in compound))
    return tuple(unknown)
