"""The offline English <-> Japanese bridge over SudachiDict's bilingual synonym groups (the shipped table)."""

from __future__ import annotations

import pytest

from retrieval.term_bridge import DEFAULT_TABLE, JMDICT_TABLE, TermBridge


@pytest.fixture(scope="module")
def bridge() -> TermBridge:
    return TermBridge.load()


def test_the_shipped_table_pairs_loanwords_with_their_english(bridge):
    assert "hotel" in bridge.translations("出張のホテル代は？")
    assert "リモートワーク" in bridge.translations("What is the remote work allowance?")  # a two-word headword
    assert {"office", "subway"} <= set(bridge.translations("ベルリンオフィスの最寄りの地下鉄の駅は？"))


def test_a_query_carries_the_tokens_both_languages_write_alike(bridge):
    query = bridge.query("INC-2026-014 の原因になった DNS トークンは、いつローテーションされましたか？")
    assert {"token", "rotation"} <= set(query.split())
    assert "INC-2026-014" in query and "DNS" in query
    english = bridge.query("Which hotel limit applies in 2026?")
    assert "ホテル" in english and "2026" in english and "Which" not in english


def test_only_whole_words_of_a_katakana_run_are_bridged(bridge):
    # リリー (lily) inside リリース, ベル (bell) inside ベルリン: not the question's words
    assert "lily" not in bridge.translations("HoshiOS 7.4 のリリース日はいつですか？")
    assert "bell" not in bridge.translations("ベルリンオフィスの住所は？")


def test_headwords_that_may_not_expand_are_no_triggers():
    # SudachiDict marks リリース as "expanded to only" (flag 1): it does not bring "release" along
    # (JMdict's table does: there リリース is a common loanword glossed "release")
    assert "release" not in TermBridge.load(DEFAULT_TABLE).translations("リリース")


def test_nothing_bridgeable_gives_no_query(bridge):
    assert bridge.query("締め切りは？") is None or "締め" not in bridge.query("締め切りは？")
    assert bridge.query("What is it?") is None
    assert "ニード" not in bridge.translations("What do I need to bring?")  # question words bridge to noise only


def test_native_words_bridge_through_the_jmdict_table(bridge):
    # no loanword here: SudachiDict's groups alone know none of these
    assert "出張" in bridge.translations("Who approves a business trip?")
    assert "承認" in bridge.translations("Who approves a business trip? Whose approval is needed?")
    assert "business trip" in bridge.translations("出張の日当はいくらですか？")
    assert {"expenses", "deadline"} <= set(bridge.translations("経費精算の締め切りは？"))


def test_an_inflected_english_word_finds_its_dictionary_form(bridge):
    assert bridge.translations("business trips") == ["出張"]  # the phrase, not 旅 or 躓く (to trip) for its words
    assert bridge.translations("approved") == bridge.translations("approve") != []
    assert "小包" in bridge.translations("parcels")
    assert "出張" in bridge.translations("Which trips need approval? business trips abroad")
    assert bridge.translations("written") == []  # irregular forms are not guessed


def test_every_term_of_a_question_gets_room_in_the_query(bridge):
    # "pay", "lose" and "office" have five translations each: Tokyo and badge, later in the question, still count
    found = bridge.translations("How much do I pay if I lose my office badge in Tokyo?")
    assert {"東京", "バッジ", "事務所"} <= set(found[:8])


def test_light_and_stop_words_bridge_to_nothing_from_jmdict():
    jmdict = TermBridge.load(JMDICT_TABLE)
    for word in ("make", "get", "thing", "take", "here", "the", "other", "if", "however"):
        assert jmdict.translations(word) == [], word
    assert "make" in jmdict.translations("作る")  # still reached from the Japanese side


def test_a_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="build it with python -m retrieval.build_bilingual"):
        TermBridge.load(tmp_path / "none.tsv.gz")
    with pytest.raises(FileNotFoundError, match="retrieval.build_jmdict_bridge"):
        TermBridge.load((DEFAULT_TABLE, tmp_path / "none.tsv.gz"))
    assert DEFAULT_TABLE.is_file() and JMDICT_TABLE.is_file()
