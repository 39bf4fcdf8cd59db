"""A month the question names (2027年4月, April 2027) is read as one unit: a calendar of other months does not answer."""

from __future__ import annotations

from chat.answerability import AnswerabilityModel
from chat.dates import asked_months, held_months, missing_months
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
    assert near_miss.unknown == ("2027-04",) and not near_miss.answerable() and near_miss.gate_margin < 0


def test_a_chat_messages_posting_time_dates_no_fact(embedder):
    # The header's 2026-03-11 is when the message was posted; the message itself dates nothing by month.
    chunk = make_hit("chat", "Yuki Sato (2026-03-11 14:10): Pay day in Tokyo is the 25th of every month.", title="#ask-finance")
    assessed = AnswerabilityModel(embedder).assess("What is the Tokyo pay day in April 2027?", [chunk])
    assert assessed.unknown == ()
