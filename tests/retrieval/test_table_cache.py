"""Parsed term tables kept in the user cache: read back when the source is unchanged, parsed again otherwise."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from chat.answerability import SYNONYMS_FILE, Synonyms
from retrieval.table_cache import SplitValues, load_table
from retrieval.term_bridge import DEFAULT_TABLES, TermBridge


def write_table(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
    return path


class CountingParser:
    """Parses a gzipped table into {first word: rest}; counts how often it really ran."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, source: Path) -> dict[str, str]:
        self.runs += 1
        with gzip.open(source, "rt", encoding="utf-8") as fh:
            return {line.split()[0]: " ".join(line.split()[1:]) for line in fh if line.strip()}


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def test_a_table_is_parsed_once_then_read_from_the_cache(tmp_path):
    source = write_table(tmp_path / "t.txt.gz", ["hotel ホテル", "office オフィス 事務所"])
    parse, cache = CountingParser(), tmp_path / "cache"
    first = load_table(source, "demo", 1, parse, cache_dir=cache)
    again = load_table(source, "demo", 1, parse, cache_dir=cache)
    assert first == again == {"hotel": "ホテル", "office": "オフィス 事務所"}
    assert parse.runs == 1
    assert len(cache_files(cache)) == 1 and not list(cache.glob("*.tmp"))  # no half-written file left


def test_an_edited_source_or_a_new_parser_version_is_parsed_again(tmp_path):
    source = write_table(tmp_path / "t.txt.gz", ["hotel ホテル"])
    parse, cache = CountingParser(), tmp_path / "cache"
    load_table(source, "demo", 1, parse, cache_dir=cache)
    write_table(source, ["hotel ホテル 旅館"])  # same name, new content
    assert load_table(source, "demo", 1, parse, cache_dir=cache) == {"hotel": "ホテル 旅館"}
    assert parse.runs == 2
    assert load_table(source, "demo", 2, parse, cache_dir=cache) == {"hotel": "ホテル 旅館"}
    assert parse.runs == 3
    assert len(cache_files(cache)) == 3  # one per (source, version): an old one is never read for a new source


@pytest.mark.parametrize("damage", ["truncated", "not json", "binary", "empty", "other table", "wrong shape"])
def test_a_corrupt_cache_file_is_parsed_again_and_rewritten(tmp_path, damage):
    source = write_table(tmp_path / "t.txt.gz", ["hotel ホテル"])
    parse, cache = CountingParser(), tmp_path / "cache"
    load_table(source, "demo", 1, parse, cache_dir=cache)
    [cached] = cache_files(cache)
    good = cached.read_bytes()
    cached.write_bytes({
        "truncated": good[: len(good) // 2],
        "not json": b"hotel\tkura",
        "binary": b"\x00\xff\xfe" * 40,
        "empty": b"",
        "other table": json.dumps({"source_sha256": "0" * 20, "version": 1, "table": {"x": "y"}}).encode(),
        "wrong shape": b"[1, 2, 3]",
    }[damage])
    assert load_table(source, "demo", 1, parse, cache_dir=cache) == {"hotel": "ホテル"}
    assert parse.runs == 2
    assert cached.read_bytes() == good  # rewritten: the next process reads it again
    assert load_table(source, "demo", 1, parse, cache_dir=cache) == {"hotel": "ホテル"} and parse.runs == 2


def test_a_cache_folder_that_cannot_be_written_only_costs_the_parse(tmp_path):
    source = write_table(tmp_path / "t.txt.gz", ["hotel ホテル"])
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    parse = CountingParser()
    assert load_table(source, "demo", 1, parse, cache_dir=blocked / "cache") == {"hotel": "ホテル"}
    assert load_table(source, "demo", 1, parse, cache_dir=blocked / "cache") == {"hotel": "ホテル"}
    assert parse.runs == 2


def test_a_missing_source_is_an_error_not_a_stale_cache(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_table(tmp_path / "none.gz", "demo", 1, CountingParser(), cache_dir=tmp_path / "cache")


def test_split_values_reads_like_a_dict_of_sets():
    view = SplitValues({"hotel": "hotel\tホテル", "x": "x"})
    assert view.get("hotel") == {"hotel", "ホテル"} and view["x"] == {"x"}
    assert view.get("none") is None and "hotel" in view and "none" not in view
    assert sorted(view) == ["hotel", "x"] and len(view) == 2


def test_the_term_bridge_reads_its_groups_back_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    table = write_table(tmp_path / "bridge.tsv.gz", [
        "宿泊施設\tホテル\thotel\tinn",
        "事務所\tオフィス\toffice",
        "解放\t~リリース\t~release",  # "~": found as a member, never a trigger
    ])
    for _ in range(2):  # parsed, then read back from the cache
        bridge = TermBridge.load(table)
        # each term's first word before any term's second (TermBridge.translations)
        assert bridge.translations("Which hotel near the office?") == ["宿泊施設", "事務所", "ホテル", "オフィス"]
        assert bridge.translations("ホテルは？") == ["hotel", "inn"]
        assert bridge.translations("release") == [] and bridge.translations("解放") == ["release"]
    assert len(list((tmp_path / "xdg" / "kura" / "tables").glob("term-bridge-*.json"))) == 1


def test_the_shipped_tables_answer_the_same_from_the_cache_as_from_their_source(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with gzip.open(SYNONYMS_FILE, "rt", encoding="utf-8") as fh:
        reference = Synonyms([line.split() for line in fh if line.strip()])  # the constructor on the source text
    parsed, cached = Synonyms.load(), Synonyms.load()
    words = set(reference._alternatives) | {w for ws in reference._alternatives.values() for w in ws} | {"zzz-none"}
    assert all(reference.expand(w) == parsed.expand(w) == cached.expand(w) for w in words)

    groups = []
    for table in DEFAULT_TABLES:  # SudachiDict's, then JMdict's
        with gzip.open(table, "rt", encoding="utf-8") as fh:
            for line in fh:
                words_ = [w for w in line.rstrip("\n").split("\t") if w]
                groups.append(tuple((w.lstrip("~"), not w.startswith("~")) for w in words_))
    direct, first, again = TermBridge(groups), TermBridge.load(), TermBridge.load()
    questions = ["What is the remote work allowance?", "出張のホテル代は？", "Who approves business trips?", "INC-2026-014 の DNS トークンは？",
                 "air conditioning in the Berlin office", *[w for g in groups[::7] for w, _ in g]]
    for q in questions:
        assert direct.translations(q) == first.translations(q) == again.translations(q), q
        assert direct.query(q) == first.query(q) == again.query(q), q


def test_a_table_of_several_sources_is_parsed_again_when_any_of_them_changes(tmp_path):
    first = write_table(tmp_path / "a.txt.gz", ["hotel ホテル"])
    second = write_table(tmp_path / "b.txt.gz", ["office 事務所"])
    runs = []

    def parse(sources):
        runs.append(1)
        return [CountingParser()(s) for s in sources]

    cache = tmp_path / "cache"
    assert load_table((first, second), "demo", 1, parse, cache_dir=cache) == [{"hotel": "ホテル"}, {"office": "事務所"}]
    write_table(second, ["office オフィス"])
    assert load_table((first, second), "demo", 1, parse, cache_dir=cache) == [{"hotel": "ホテル"}, {"office": "オフィス"}]
    assert load_table((second, first), "demo", 1, parse, cache_dir=cache)[0] == {"office": "オフィス"}  # order counts
    assert len(runs) == 3
