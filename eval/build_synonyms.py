"""Build ``chat/data/sudachi_synonyms.txt.gz`` from SudachiDict's synonym source.

    python -m eval.build_synonyms PATH/TO/SudachiDict/src/main/text/synonyms.txt

The source (Apache License 2.0, WorksApplications/SudachiDict, ``src/main/text/synonyms.txt``) is CSV, one
headword a line, groups separated by blank lines; column 0 is the group number, column 2 the expansion flag
(0: always expand, 1: expanded to but never a trigger, 2: never used) and column 8 the headword.

The compact form keeps what the answerability model can use: each headword as the one BM25 term Kura's
tokenizer makes of it (Sudachi mode A, normalized form; English lowercased), dropping headwords that split
into several terms (term matching is per term) and flag-2 entries. One group a line, terms separated by
spaces; a term of a flag-1 entry is prefixed with ``~`` (it may be reached, never expand).
"""

from __future__ import annotations

import csv
import gzip
import sys
from collections import defaultdict
from pathlib import Path

from retrieval.tokenize import tokenize

OUT = Path(__file__).resolve().parent.parent / "chat" / "data" / "sudachi_synonyms.txt.gz"


def build(source: Path, out: Path = OUT) -> int:
    groups: dict[str, dict[str, bool]] = defaultdict(dict)
    with source.open(encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if len(row) < 9 or not row[0].strip():
                continue
            flag = row[2].strip() or "0"
            if flag == "2":
                continue
            terms = tokenize(row[8])
            if len(terms) != 1:
                continue
            term = terms[0]
            members = groups[row[0]]
            members[term] = members.get(term, False) or flag == "0"
    lines = []
    for members in groups.values():
        if len(members) > 1 and any(members.values()):
            lines.append(" ".join(t if trigger else "~" + t for t, trigger in members.items()))
    with gzip.open(out, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return len(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m eval.build_synonyms SudachiDict/src/main/text/synonyms.txt")
    print(f"{build(Path(sys.argv[1]))} groups written to {OUT}")
