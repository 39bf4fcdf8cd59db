"""A month the question names (2027年4月, April 2027) is read as one unit: a calendar of other months does not answer."""

from __future__ import annotations

from chat.answerability import AnswerabilityModel
from chat.dates import asked_months, held_months, is_year, missing_months
from tests.chat.conftest import make_hit

CALENDAR = (
    "2026年度（2026年4月〜2027年3月）の給与支給日の一覧です。\n"
    "| 月 | 東京 | ベルリン |\n|---|---|---|\n"
    "| 2026年4月 | 4月24日（金） | 4月30日（木） |\n"
    "| 2027年3月 | 3月25日（木） | 3月31日（水） |\n"
)


def test_a_month_is_read_in_each_way_it_is_written():
    assert asked_months("2027年4月の東京の給与支給日はいつですか？") == [(2027, 4)]
    assert asked_months("When is the fleet console release in February 2027?") == [(2027, 2)]
    assert asked_months("Released on 16 October 2015, Oct. 3, 2014 or 2015-06-01?") == [(2015, 10), (2014, 10), (2015, 6)]
    # A season (2010-11), a year alone and a month without its year name no month of a calendar.
    assert asked_months("Tickets sold in the 2010-11 season, in 2027 or in April?") == []
    # A document's table may write a bare year-month.
    assert held_months("| 2026-05 | closed |") == {(2026, 5)}


def test_a_range_holds_every_month_between_its_ends():
    held = held_months("2026年度（2026年4月〜2027年3月）の一覧")
    assert (2026, 12) in held and (2027, 3) in held and len(held) == 12
    assert (2027, 4) not in held
    assert held_months("Valid from April 2026 to June 2026.") == {(2026, 4), (2026, 5), (2026, 6)}
    # Two months side by side are two months, not a range.
    assert held_months("2026年4月、2026年7月に実施") == {(2026, 4), (2026, 7)}


def test_a_month_without_its_year_is_in_the_year_the_text_last_named():
    assert held_months("2017年12月に捜索を受け、1月22日までに談合を認めた。") == {(2017, 12), (2018, 1)}
    assert held_months("| 2026年4月 | 4月24日（金） |\n| 2027年3月 | 3月25日（木） |") == {(2026, 4), (2027, 3)}
    assert held_months("Work began in November 2004; on 8 December filming started. You may 3 times.") == {(2004, 11), (2004, 12)}
    assert held_months("1月22日までに提出") == set()  # no year named: which year is unknown
    # The longest reading of the same words: "April 8, 2027" is no yearless "April 8" of the year named before.
    assert held_months("Filming ends on April 8, 2027.") == {(2027, 4)}
    assert held_months("From March 2026 on; filming ends on April 8, 2027.") == {(2026, 3), (2027, 4)}
    assert missing_months("2018年1月22日までに談合を認めたのは？", ["2017年12月に捜索を受け、1月22日までに談合を認めた。"]) == []


def test_a_month_is_missing_only_where_the_texts_date_their_facts_by_month():
    assert missing_months("2027年4月の東京の給与支給日は？", [CALENDAR]) == [(2027, 4)]
    assert missing_months("2027年3月の東京の給与支給日は？", [CALENDAR]) == []
    assert missing_months("2026年12月の東京の給与支給日は？", [CALENDAR]) == []  # inside the fiscal year's range
    assert missing_months("When is the pay date in December 2026?", [CALENDAR]) == []  # English question, Japanese page
    # "Paid on the 25th of every month" dates nothing: it may answer any month.
    assert missing_months("2027年4月の東京の給与支給日は？", ["東京：毎月25日支給。"]) == []


def test_a_near_miss_on_a_month_abstains_where_the_neighbouring_month_would_answer(embedder):
    chunk = make_hit("pay", CALENDAR, title="2026年度 給与支払カレンダー")
    model = AnswerabilityModel(embedder)
    asked = model.assess("2027年3月の東京の給与支給日はいつですか？", [chunk])
    near_miss = model.assess("2027年4月の東京の給与支給日はいつですか？", [chunk])
    assert asked.answerable() and not asked.unknown
    assert near_miss.unknown == ("2027-04",) and not near_miss.answerable()
    # The rule is the offline answerer's; an LLM still reads the calendar (its NOT_FOUND judges the month).
    assert near_miss.gate_margin == model.assess("2027年4月の東京の給与支給日はいつですか？", [chunk], rules=False).gate_margin >= 0


def test_a_chat_messages_posting_time_dates_no_fact(embedder):
    # The header's 2026-03-11 is when the message was posted; the message itself dates nothing by month.
    chunk = make_hit("chat", "Yuki Sato (2026-03-11 14:10): Pay day in Tokyo is the 25th of every month.", title="#ask-finance")
    assessed = AnswerabilityModel(embedder).assess("What is the Tokyo pay day in April 2027?", [chunk])
    assert assessed.unknown == ()


BONUS = (
    "2026年度（2026年4月〜2027年3月）の給与支給日、賞与支給日の一覧です。\n"
    "区分: 夏季賞与; 賞与支給日: 2026年7月10日（金）; 対象期間: 2025年10月〜2026年3月\n"  # a table row as ingested
)


def test_a_year_is_four_digits_alone():
    assert is_year("2027") and is_year("1790")
    assert not is_year("600") and not is_year("9.0") and not is_year("3000") and not is_year("20270")


def test_a_year_the_sentences_on_the_topic_do_not_name_abstains(embedder):
    # The summer bonus row dates it 2026; 2027 is only in the heading's range, which says nothing of the bonus.
    chunk = make_hit("bonus", BONUS, title="2026年度 給与支払カレンダー")
    model = AnswerabilityModel(embedder)
    asked = model.assess("2026年の夏季賞与はいつ支給されますか？", [chunk])
    near_miss = model.assess("2027年の夏季賞与はいつ支給されますか？", [chunk])
    assert asked.answerable() and not asked.unknown
    assert near_miss.unknown == ("2027",) and not near_miss.answerable()


def test_a_sentence_on_the_topic_without_a_year_keeps_the_question_open(embedder):
    # "Every July" answers any year's summer bonus.
    chunk = make_hit("bonus", BONUS + "\n夏季賞与は毎年7月10日に支給します。", title="2026年度 給与支払カレンダー")
    assert AnswerabilityModel(embedder).assess("2027年の夏季賞与はいつ支給されますか？", [chunk]).unknown == ()


def test_a_month_after_the_last_named_one_names_the_next_year_for_the_topic(embedder):
    # "2017年12月 ... 1月22日までに" is January 2018: the sentence names the year asked, so it may answer.
    chunk = make_hit("x", "同社は2017年12月に捜索を受け、1月22日までに談合を認めた。", title="清水建設")
    question = "2018年1月22日までに談合を認めたのは？"
    assert AnswerabilityModel(embedder).assess(question, [chunk]).unknown == ()


def test_a_bare_year_in_the_sentence_on_the_topic_keeps_the_question_open(embedder):
    # "In 1790" may date something else in the sentence; only a month-dated fact says "another year".
    chunk = make_hit("nyc", "New York was the largest city in the United States by 1790, ahead of Philadelphia.",
                     title="New York City")
    assessed = AnswerabilityModel(embedder).assess("What was the largest city in the United States in 1800?", [chunk])
    assert assessed.unknown == ()
