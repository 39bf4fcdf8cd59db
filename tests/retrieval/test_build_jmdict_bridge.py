"""The JMdict term-table builder, on a small synthetic jamdict database packed like the jamdict-data sdist."""

from __future__ import annotations

import gzip
import io
import lzma
import sqlite3
import tarfile
from pathlib import Path

import pytest

from retrieval.build_jmdict_bridge import MAX_ENTRIES_PER_GLOSS, build, clean_gloss

KANA_ALONE = "word usually written using kana alone"  # JMdict's misc tag, as jamdict stores it
from retrieval.term_bridge import TermBridge

SCHEMA = """
create table Kanji (ID integer primary key, idseq integer, text text);
create table KJP (kid integer, text text);
create table KJI (kid integer, text text);
create table Kana (ID integer primary key, idseq integer, text text, nokanji boolean);
create table KNP (kid integer, text text);
create table KNI (kid integer, text text);
create table Sense (ID integer primary key, idseq integer);
create table misc (sid integer, text text);
create table SenseGloss (sid integer, lang text, gend text, text text);
"""

# idseq: (kanji forms with their priority tags, kana readings with theirs, senses as (misc tags, glosses))
ENTRIES = {
    1: ([("出張", ["ichi1", "news1", "nf07"])], [("しゅっちょう", ["ichi1"])], [([], ["business trip", "official trip"])]),
    # a rare entry: no priority tag anywhere
    2: ([("駐輪場", [])], [("ちゅうりんじょう", [])], [([], ["bicycle parking"])]),
    3: (
        [("作る", ["ichi1", "news1", "nf04"]), ("〆作", [])],
        [("つくる", ["ichi1"])],
        [
            ([], ["to make", "to draw up (a document)"]),
            (["archaism"], ["to till"]),
            ([], ["to put on a show of great emotion", "to make something for someone"]),
        ],
    ),
    4: ([], [("パスワード", ["gai1"])], [([], ["password"])]),
    5: ([("上", ["ichi1"])], [("うえ", ["ichi1"])], [([], ["above"])]),  # one character: too ambiguous
    6: ([], [("ここ", ["ichi1"])], [([], ["here"])]),  # hiragana only: a function word, and a stop-word gloss
    # written in kana (いくら), which Sudachi normalizes to 幾ら: a question word, whatever its glosses
    7: ([("幾ら", ["ichi1"])], [("いくら", ["ichi1"])], [([KANA_ALONE], ["how much", "however"])]),
    8: ([("何年", ["ichi1"])], [("なんねん", ["ichi1"])], [([], ["what year", "how many years"])]),
    9: ([("草臥れる", ["ichi1"])], [("くたびれる", ["ichi1"])], [([KANA_ALONE], ["to tire"])]),
}
# Eight common entries glossed "approval", the most frequent (nf01) first.
APPROVALS = ["承認", "許可", "賛成", "認可", "同意", "容認", "是認", "賛同"]


def make_database(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    entries = dict(ENTRIES)
    for i, word in enumerate(APPROVALS):
        entries[100 + i] = ([(word, ["news1", f"nf{i + 1:02d}"])], [], [([], ["approval"])])
    for idseq, (kanji, kana, senses) in entries.items():
        for text, tags in kanji:
            kid = con.execute("insert into Kanji (idseq, text) values (?, ?)", (idseq, text)).lastrowid
            con.executemany("insert into KJP values (?, ?)", [(kid, t) for t in tags])
            if text.startswith("〆"):
                con.execute("insert into KJI values (?, 'word containing irregular kanji usage')", (kid,))
        for text, tags in kana:
            kid = con.execute("insert into Kana (idseq, text, nokanji) values (?, ?, 0)", (idseq, text)).lastrowid
            con.executemany("insert into KNP values (?, ?)", [(kid, t) for t in tags])
        for misc, glosses in senses:
            sid = con.execute("insert into Sense (idseq) values (?)", (idseq,)).lastrowid
            con.executemany("insert into misc values (?, ?)", [(sid, m) for m in misc])
            con.executemany("insert into SenseGloss values (?, 'eng', '', ?)", [(sid, g) for g in glosses])
    con.commit()
    con.close()


def make_sdist(tmp_path: Path, with_database: bool = True) -> Path:
    sdist = tmp_path / "jamdict_data-1.5.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        readme = b"# Jamdict database\n"
        info = tarfile.TarInfo("jamdict_data-1.5/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
        if with_database:
            db = tmp_path / "jamdict.db"
            make_database(db)
            packed = lzma.compress(db.read_bytes())
            info = tarfile.TarInfo("jamdict_data-1.5/jamdict_data/jamdict.db.xz")
            info.size = len(packed)
            tar.addfile(info, io.BytesIO(packed))
    return sdist


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("jmdict")
    out = tmp_path / "jmdict_bilingual.tsv.gz"
    build(make_sdist(tmp_path), out)
    return out


def rows(table: Path) -> list[list[str]]:
    with gzip.open(table, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n").split("\t") for line in fh]


def test_only_common_entries_with_usable_forms_are_kept(table):
    lines = rows(table)
    forms = {line[0] for line in lines}
    assert "出張" in forms and "パスワード" in forms  # common by a kanji form, and a katakana loanword by gai1
    assert "駐輪場" not in forms  # no priority tag
    assert "上" not in forms and "ここ" not in forms  # one character; hiragana only
    assert "幾ら" not in forms and "草臥れる" not in forms  # usually written in kana (いくら, くたびれる)
    assert "何年" not in forms  # glosses only of question words
    assert not any("〆作" in line or "つくる" in line or "しゅっちょう" in line for line in lines)


def test_a_common_entry_bridges_both_ways(table):
    bridge = TermBridge.load(table)
    assert bridge.translations("How do I book a business trip?") == ["出張"]
    assert bridge.translations("出張の申請") == ["business trip", "official trip"]


def test_glosses_are_cut_to_what_a_question_would_say(table):
    glosses = next(line for line in rows(table) if line[0] == "作る")[1:]
    assert "draw up" in glosses  # "to " and the parenthetical note stripped
    assert "till" not in glosses  # an archaic sense
    assert not any("show" in g or "something" in g for g in glosses)  # too long; an explanation


def test_a_light_word_is_reached_but_never_bridges_from(table):
    bridge = TermBridge.load(table)
    assert "make" in bridge.translations("作る")
    assert bridge.translations("make") == []


def test_a_gloss_bridges_only_to_its_most_frequent_entries(table):
    found = TermBridge.load(table).translations("approval")
    assert found == APPROVALS[:MAX_ENTRIES_PER_GLOSS]
    # and the others still lead back to it
    assert TermBridge.load(table).translations(APPROVALS[-1]) == ["approval"]


@pytest.mark.parametrize(
    ("gloss", "cleaned"),
    [("to draw up (a document)", "draw up"), ("Salary", "salary"), ("HR", "HR"), ("here", None), ("to be", None),
     ("one's own work", None), ("parking area for bicycles", None), ("cut-off", "cut-off"), ("3D printer", None)],
)
def test_clean_gloss(gloss, cleaned):
    assert clean_gloss(gloss) == cleaned


def test_an_archive_without_the_database_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no jamdict_data/jamdict.db.xz inside"):
        build(make_sdist(tmp_path, with_database=False), tmp_path / "out.tsv.gz")
