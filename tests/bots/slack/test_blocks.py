"""Block Kit payloads the bot builds stay within Slack's documented limits, checked with slack_sdk's block classes."""

from __future__ import annotations

import re

import pytest

from bots.slack import blocks
from core.types import Answer, AnswerSentence, Source
from tests.fakes.slack_spec import block_problems, view_problems

BASE = "https://kura.example.com"
# About 330 characters of Japanese: percent-encoded, 9 characters each, far over Slack's 3,000 for a button url.
LONG_JA_QUESTION = "経費精算の申請で、海外出張中に現地通貨で支払った宿泊費と交通費を、帰国後にまとめて申請する場合の為替レートの扱いと、" * 6


def sources(n: int, title_len: int = 40) -> tuple[Source, ...]:
    return tuple(Source(i, f"confluence:{i}", f"c{i}", f"Page {i} " + "x" * title_len,
                        f"https://wiki.example.com/wiki/spaces/ENG/pages/{i}?a=1&b=2", "snippet", "confluence")
                 for i in range(1, n + 1))


def answer(sentences: list[str], srcs: tuple[Source, ...], question: str = "How?", **kw) -> Answer:
    return Answer(question=question, text=" ".join(sentences),
                  sentences=tuple(AnswerSentence(s, (1 + i % max(1, len(srcs)),) if srcs else ())
                                  for i, s in enumerate(sentences)),
                  sources=srcs, abstained=False, answerer="test", **kw)


def links_in(blocks_) -> list[str]:
    text = "\n".join(e["text"] for b in blocks_ for e in [b.get("text") or {}] + list(b.get("elements") or [])
                     if e.get("type") == "mrkdwn")
    return re.findall(r"<([^<>|]+)\|([^<>]*)>", text)


def assert_valid(blocks_) -> None:
    assert blocks_, "no blocks built"
    assert block_problems(blocks_) == []


def test_long_question_keeps_the_web_chat_button_within_slacks_url_limit():
    text, built = blocks.answer_message(answer(["A short answer."], sources(1), question=LONG_JA_QUESTION),
                                        answer_id="a1", web_base_url=BASE)
    url = next(e["url"] for b in built if b["type"] == "actions" for e in b["elements"] if e.get("url"))
    assert len(LONG_JA_QUESTION) > 320
    assert len(url) <= 3000 and url.startswith(BASE + "/?q=%E7%B5%8C%E8%B2%BB")
    assert "%" not in url[-2:]  # never half of an encoded character
    assert_valid(built)


def test_long_answer_and_many_sources_are_split_into_blocks_not_cut():
    sentences = [f"Sentence {i} explains step {i} of the expense process in some detail, with care." for i in range(90)]
    srcs = sources(60, title_len=60)
    _, built = blocks.answer_message(answer(sentences, srcs), answer_id="a2", web_base_url=BASE)

    assert_valid(built)
    shown = " ".join(b["text"]["text"] for b in built if b["type"] == "section")
    assert all(s in shown for s in sentences)  # every sentence is there, whole
    listed = {label for _, label in links_in(built) if not label.startswith("[")}
    assert len(listed) == 60  # every source line, each a whole link
    for b in built:
        parts = [b.get("text") or {}] + list(b.get("elements") or [])
        for text in [e["text"] for e in parts if e.get("type") == "mrkdwn"]:
            assert text.count("<") == text.count(">"), "a link was cut in half"


def test_a_sentence_with_hundreds_of_citations_is_cut_between_links_and_continued():
    srcs = sources(300)
    one = Answer(question="q", text="Everything.", sentences=(AnswerSentence("Everything.", tuple(range(1, 301))),),
                 sources=srcs, abstained=False, answerer="test")
    _, built = blocks.answer_message(one, answer_id="a3", web_base_url=BASE)
    assert_valid(built)
    sections = [b for b in built if b["type"] == "section"]
    assert len(sections) >= 2
    assert all(b["text"]["text"].count("<") == b["text"]["text"].count(">") for b in sections)
    assert len(links_in(sections)) == 300  # every citation link whole, none lost at a cut


def test_more_than_fifty_blocks_worth_keeps_the_buttons_and_points_to_the_web_chat():
    sentences = ["word " * 590] * 60  # each sentence fills a section of its own
    _, built = blocks.answer_message(answer(sentences, sources(3)), answer_id="a4", web_base_url=BASE)
    assert len(built) == 50
    assert built[-1]["type"] == "actions"
    assert "web chat" in built[-2]["elements"][0]["text"]
    assert_valid(built)


@pytest.mark.parametrize("helpful", [True, False])
def test_every_other_message_the_bot_builds_is_valid_block_kit(helpful):
    long_text = "ある文。" * 2000
    for _, built in (blocks.searching_message(), blocks.partial_message(long_text), blocks.error_message(long_text)):
        assert_valid(built)
    _, answered = blocks.answer_message(answer(["One."], sources(2), question=LONG_JA_QUESTION), answer_id="a5",
                                        web_base_url=BASE)
    assert_valid(blocks.rated_blocks(answered, helpful=helpful))
    assert view_problems(blocks.reason_modal("a5")) == []
