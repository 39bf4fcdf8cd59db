"""Sentence splitting: wrapped lines are one sentence; table rows, list items and sentences stay apart."""

from __future__ import annotations

from chat.sentences import split_sentences


def test_a_line_wrapped_inside_a_sentence_is_one_sentence():
    text = ("Hoshi robots work around the clock, so the platform has an engineer on call at all\n"
            "times. The outgoing engineer posts a note.")
    assert split_sentences(text) == [
        "Hoshi robots work around the clock, so the platform has an engineer on call at all times.",
        "The outgoing engineer posts a note.",
    ]


def test_a_list_item_continued_on_an_indented_line_is_one_sentence():
    text = ("- Rotation changes on Monday. The outgoing\n  Primary posts a handover note before 10:00.\n"
            "- Swaps are done in PagerDuty\n  - A nested item stays apart.")
    assert split_sentences(text) == [
        "Rotation changes on Monday.",
        "The outgoing Primary posts a handover note before 10:00.",
        "Swaps are done in PagerDuty",
        "A nested item stays apart.",
    ]


def test_table_rows_list_items_and_finished_lines_stay_apart():
    rows = "When: Day 30; With: Manager\nWhen: Day 60; With: Buddy\n項目: 文字数; ルール: 14文字以上\n項目: 有効期限; ルール: 180日"
    assert split_sentences(rows) == rows.split("\n")
    assert split_sentences("- first item\n- second item") == ["first item", "second item"]
    # A line that ends a sentence is not joined to a lower-case line after it.
    assert split_sentences("Read the policy.\neverybody replies by Friday") == ["Read the policy.", "everybody replies by Friday"]
