"""Build ``retrieval/data/sudachi_bilingual.tsv.gz``, the offline English <-> Japanese term table.

    python -m retrieval.build_bilingual PATH/TO/SudachiDict/src/main/text/synonyms.txt

The source is SudachiDict's synonym dictionary (Apache License 2.0, WorksApplications/SudachiDict,
``src/main/text/synonyms.txt``): CSV, one headword a line; column 0 is the group number, column 2 the
expansion flag (0: expands and is expanded to, 1: only expanded to, 2: never used), column 8 the headword.
Its groups put katakana loanwords beside their English spelling and their native synonyms
(``ホテル hotel``, ``ローテーション rotation``, ``事務所 オフィス office``), which is what a question in one
language needs to meet a document in the other when no LLM is there to translate.

Kept: groups with at least one English (ASCII letters) and one Japanese headword, without flag-2 headwords
and without headwords in other scripts. One group a line, headwords separated by tabs (English headwords
may hold spaces), a flag-1 headword prefixed with ``~``. About 19,000 groups.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "sudachi_bilingual.tsv.gz"
ENGLISH = re.compile(r"[A-Za-z][A-Za-z .'-]*")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff々ー]+")


def build(source: Path, out: Path = OUT) -> int:
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    with source.open(encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if len(row) < 9 or row[2] == "2":
                continue
            word = row[8].strip()
            if ENGLISH.fullmatch(word) or JAPANESE.fullmatch(word):
                # the first flag seen wins; "0" (a trigger) beats "1" when a headword appears twice
                flags = groups[row[0]]
                flags[word] = min(flags.get(word, row[2]), row[2])
    lines = []
    for flags in groups.values():
        words = list(flags)
        if any(ENGLISH.fullmatch(w) for w in words) and any(JAPANESE.fullmatch(w) for w in words):
            lines.append("\t".join(("~" if flags[w] == "1" else "") + w for w in words))
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("\n".join(lines) + "\n")
    return len(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m retrieval.build_bilingual PATH/TO/SudachiDict/src/main/text/synonyms.txt")
    print(f"{build(Path(sys.argv[1]))} groups -> {OUT}")
