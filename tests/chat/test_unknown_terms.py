"""A version or a Japanese compound's modifier that no readable document has makes a question a near miss."""

from __future__ import annotations

from chat.answerability import AnswerabilityModel, CountTermStats
from chat.unknown_terms import japanese_compounds, unknown_compounds, unknown_versions, versions
from tests.chat.conftest import make_hit

RELEASES = make_hit(
    "releases",
    "Version: HoshiOS 7.4; Code freeze: 2026-10-06; Release manager: Lena Hoffmann.",
    title="Release calendar 2026",
)
LEAVE = make_hit(
    "leave",
    "育児休業は子が1歳になるまで取得できます。休業中の社会保険料は免除されます。",
    title="育児休業",
)


def test_versions_follow_a_product_name_or_the_word_version():
    assert versions("Who is the release manager for HoshiOS 7.5?") == [("HoshiOS 7.5", "7.5")]
    assert versions("Hoshi Connect 5.0 はいつ配布されますか？") == [("Hoshi Connect 5.0", "5.0")]
    assert versions("Does v2.3 or version 4.2 fix it?") == [("v2.3", "2.3"), ("version 4.2", "4.2")]
    assert versions("It rose 7.5 percent in 2019.") == []  # a decimal alone is no version


def test_a_version_is_known_when_a_chunk_or_the_index_holds_it():
    texts = [RELEASES.chunk.text]
    assert unknown_versions("Who manages HoshiOS 7.4?", texts, lambda m: False) == ()
    assert unknown_versions("Who manages HoshiOS 7.5?", texts, lambda m: False) == ("HoshiOS 7.5",)
    assert unknown_versions("Who manages HoshiOS 7.5?", texts, lambda m: m == "HoshiOS 7.5") == ()


def test_an_unknown_version_is_not_found_where_its_neighbour_would_answer(embedder):
    model = AnswerabilityModel(embedder)
    stats = CountTermStats({"hoshios": 3, "7.4": 1, "release": 5, "manager": 2}, 10)
    known = model.assess("Who is the release manager for HoshiOS 7.4?", [RELEASES], term_stats=stats)
    near_miss = model.assess("Who is the release manager for HoshiOS 7.5?", [RELEASES], term_stats=stats)
    assert known.unknown == () and known.answerable()
    assert near_miss.unknown == ("HoshiOS 7.5",) and not near_miss.answerable()


def test_japanese_compounds_are_common_nouns_written_together_without_question_words():
    assert [tuple(t for t, _ in c) for c in japanese_compounds("介護休業は最大で何日取れますか？")] == [("介護", "休業")]
    # いくら is read as a common noun by Sudachi, yet it only asks how much.
    assert japanese_compounds("住宅手当は月にいくら支給されますか？")[0] == (("住宅", "住宅"), ("手当", "手当"))
    assert len(japanese_compounds("住宅手当は月にいくら支給されますか？")) == 1
    assert japanese_compounds("What is the leave?") == []


def held_in(texts):
    words = {w for t in texts for w in ("育児", "休業", "社会", "保険", "介護") if w in t}
    return lambda term: term in words


def test_a_modifier_in_no_document_before_a_head_the_candidates_hold_after_another_modifier_is_unknown():
    texts = [LEAVE.chunk.text]
    nowhere = lambda term: False  # noqa: E731
    assert unknown_compounds("介護休業は最大で何日取れますか？", texts, held_in(texts), nowhere) == ("介護休業",)
    # The corpus has 介護 somewhere: the question may be answered there, not called a near miss here.
    assert unknown_compounds("介護休業は最大で何日取れますか？", texts, held_in(texts), lambda t: t == "介護") == ()
    # No sibling: the head only alone in the candidates is no contrast (a paraphrase's new modifier, 推計人数).
    alone = ["休業中の社会保険料は免除されます。"]
    assert unknown_compounds("介護休業は最大で何日取れますか？", alone, held_in(alone), nowhere) == ()
    # A one-character head (代, 金, 地) is too general: ネット代 may well be the document's 通信費.
    assert unknown_compounds("ネット代は出ますか？", ["電気代は出ません"], lambda t: t == "代", nowhere) == ()


def test_a_compound_near_miss_is_not_found_and_its_sibling_still_answers():
    model = AnswerabilityModel()
    stats = CountTermStats({"育児": 2, "休業": 3, "社会": 4, "保険": 4, "料": 5, "免除": 1}, 10)
    asked = model.assess("育児休業中の社会保険料はどうなりますか？", [LEAVE], term_stats=stats)
    near_miss = model.assess("介護休業中の社会保険料はどうなりますか？", [LEAVE], term_stats=stats)
    assert asked.unknown == () and asked.answerable()
    assert near_miss.unknown == ("介護休業",) and not near_miss.answerable()
