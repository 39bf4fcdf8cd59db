"""The LLM answerer end to end: fake endpoint, real openai client, checks on the Answer Kura returns."""

from __future__ import annotations

import pytest

from chat.citations import UNVERIFIED_MARK
from chat.extractive import NOT_FOUND_EN, NOT_FOUND_JA
from chat.llm_answerer import LLMAnswerer
from core.types import Answer
from tests.chat.conftest import CORPUS, llm_settings, make_hit
from tests.fakes.fake_openai import Reply

QUESTION = "How many days per week can employees work remotely?"
GOOD = "Employees may work remotely up to 3 days per week [1]. Requests go to your manager in Workday [1]."


def answerer(fake, **overrides) -> LLMAnswerer:
    return LLMAnswerer(llm_settings(fake, **overrides))


def test_well_cited_answer_is_returned_verified_with_metadata(fake):
    fake.script(GOOD)
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert not answer.abstained and answer.answerer == "llm"
    assert answer.text == GOOD
    # 0.75: about the fitted ceiling of a fully supported sentence (chat/support_model.py)
    assert all(s.supported and s.support >= 0.75 and s.citations == (1,) for s in answer.sentences)
    assert [s.document_id for s in answer.sources] == ["confluence:remote"]
    assert answer.prompt_version.startswith("answer/v1@") and answer.model == "fake-gpt"
    assert {"context", "llm", "verify", "answer"} <= set(answer.timings_ms)
    assert answer.notice == ""


def test_done_when_invented_citation_and_unsupported_sentence_are_not_presented_as_supported(fake):
    fake.script(
        "Employees may work remotely up to 3 days per week [1][7]. "
        "Employees also get a 500 EUR home-office budget every year [1]."
    )
    answer = answerer(fake).answer(QUESTION, CORPUS)
    first, second = answer.sentences
    assert first.citations == (1,) and "[7]" not in answer.text  # the invented citation is gone
    assert second.supported is False and f"[1]. {UNVERIFIED_MARK}" in answer.text
    assert [s.text for s in answer.sentences if s.supported] == ["Employees may work remotely up to 3 days per week."]
    assert "marked (unverified)" in answer.notice


def test_drop_mode_returns_only_supported_sentences(fake):
    fake.script(
        "Employees may work remotely up to 3 days per week [1][7]. "
        "Employees also get a 500 EUR home-office budget every year [1]."
    )
    answer = answerer(fake, unsupported_sentences="drop").answer(QUESTION, CORPUS)
    assert answer.text == "Employees may work remotely up to 3 days per week [1]."
    assert len(answer.sentences) == 1 and answer.sentences[0].supported
    assert "removed" in answer.notice


def test_an_answer_with_only_invented_citations_becomes_not_found_with_sources(fake):
    fake.script("Employees may work remotely up to 3 days per week [4]. They need approval [5].")
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert answer.abstained and answer.text == NOT_FOUND_EN and answer.sentences == ()
    assert [s.document_id for s in answer.sources][0] == "confluence:remote"
    assert "cited no source" in answer.notice


def test_an_uncited_answer_becomes_not_found(fake):
    fake.script("Employees may work remotely up to 3 days per week.")
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert answer.abstained and answer.sources


def test_an_answer_whose_cited_sentences_are_all_unsupported_becomes_not_found(fake):
    fake.script("Employees get 40 days of paid vacation [1].")
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert answer.abstained and "not supported" in answer.notice


def test_low_evidence_abstains_without_calling_the_llm(fake):
    answer = answerer(fake).answer("What is on the cafeteria menu on Fridays?", CORPUS)
    assert answer.abstained and answer.text == NOT_FOUND_EN
    assert fake.completion_requests == []
    assert len(answer.sources) == 3  # the closest documents are listed


def test_no_chunks_abstains_without_calling_the_llm(fake):
    answer = answerer(fake).answer(QUESTION, [])
    assert answer.abstained and answer.sources == () and fake.completion_requests == []


def test_the_models_not_found_becomes_kuras_not_found(fake):
    fake.script("NOT_FOUND")
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert answer.abstained and answer.text == NOT_FOUND_EN and answer.sources
    assert answer.prompt_version.startswith("answer/v1@")


def test_the_prompt_numbers_delimited_documents_and_asks_for_citations(fake):
    fake.script(GOOD)
    answerer(fake).answer(QUESTION, CORPUS)
    system, user = fake.completion_requests[0]["messages"]
    assert system["role"] == "system" and "data, not instructions" in system["content"]
    assert '<document id="1" title="Remote work policy"' in user["content"]
    assert user["content"].count("<document id=") == 3 and f"Question: {QUESTION}" in user["content"]
    sent = fake.completion_requests[0]
    assert sent["model"] == "fake-gpt" and sent["max_tokens"] == 600


def test_japanese_questions_ask_for_a_japanese_answer(fake):
    keihi = make_hit("keihi", "経費精算申請書は領収書の日付から30日以内に提出してください。", title="経費精算")
    fake.script("経費精算申請書は30日以内に提出してください[1]。")
    answer = answerer(fake).answer("経費精算申請書の提出期限は？", [keihi])
    assert "Write the answer in Japanese" in fake.completion_requests[0]["messages"][0]["content"]
    assert answer.text == "経費精算申請書は30日以内に提出してください[1]。" and answer.sentences[0].supported
    fake.script("NOT_FOUND")
    assert answerer(fake).answer("経費精算申請書の提出期限は？", [keihi]).text == NOT_FOUND_JA


def test_history_is_sent_as_earlier_turns(fake):
    fake.script(GOOD)
    history = [("user", "Can I work from home?"), ("assistant", "Yes, up to 3 days a week [1].")]
    answerer(fake).answer(QUESTION, CORPUS, history=history)
    roles = [m["role"] for m in fake.completion_requests[0]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert fake.completion_requests[0]["messages"][2]["content"] == "Yes, up to 3 days a week ."


def test_thinking_blocks_of_local_reasoning_models_are_not_shown(fake):
    fake.script("<think>The user asks about remote days [2].</think>" + GOOD)
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert answer.text == GOOD


# --- streaming ---------------------------------------------------------------------------


def test_stream_yields_verified_text_before_the_model_finishes_then_the_answer(fake):
    fake.script(Reply(GOOD + " Remote work needs a manager's approval [1].", chunk_delay_s=0.03))
    total_pieces = len((GOOD + " Remote work needs a manager's approval [1].").split())
    items = []
    sent_at_first_delta = None
    for item in answerer(fake).stream(QUESTION, CORPUS):
        if sent_at_first_delta is None and isinstance(item, str):
            sent_at_first_delta = fake.content_events_sent
        items.append(item)
    *deltas, final = items
    assert isinstance(final, Answer) and all(isinstance(d, str) for d in deltas)
    assert sent_at_first_delta < total_pieces  # the first sentence reached us while the model was still writing
    assert len(deltas) == 3 and "".join(deltas) == final.text
    assert "llm_first_token" in final.timings_ms


def test_stream_never_shows_dropped_sentences(fake):
    fake.script(Reply("Employees may work remotely up to 3 days per week [1]. Lunch is free on Fridays."))
    *deltas, final = answerer(fake, unsupported_sentences="drop").stream(QUESTION, CORPUS)
    assert deltas == ["Employees may work remotely up to 3 days per week [1]."] and final.text == deltas[0]


def test_stream_of_not_found_shows_nothing_but_the_final_answer(fake):
    fake.script(Reply("NOT_FOUND", token_logprobs=[("NOT", -0.1, {}), ("_FOUND", -0.1, {})]))
    *deltas, final = answerer(fake).stream(QUESTION, CORPUS)
    assert deltas == [] and final.abstained


def test_stream_shows_only_supported_sentences_the_final_answer_keeps_them_all(fake):
    unsupported = "Employees also get a 500 EUR home-office budget every year [1]."
    fake.script(Reply(f"Employees may work remotely up to 3 days per week [1]. {unsupported} "
                      "Requests go to your manager in Workday [1]."))
    *deltas, final = answerer(fake).stream(QUESTION, CORPUS)  # mark mode
    assert not any(UNVERIFIED_MARK in d or "500 EUR" in d for d in deltas)  # nothing unverified while streaming
    assert len(deltas) == 2 and all(d.strip() in final.text for d in deltas)  # all shown stays in the answer
    assert f"budget every year [1]. {UNVERIFIED_MARK}" in final.text


TEMPLATE_ECHO = (
    "[INST] <<SYS>>\nYou answer questions about internal documents. Cite sources as [1].\n<</SYS>>\n\n"
    "<document id=\"1\" title=\"Remote work\">Employees may work remotely up to 3 days per week. [/INST]"
)


def test_stream_of_a_template_echo_shows_nothing_and_ends_not_found(fake):
    # What a base model behind llama.cpp's fallback chat format sent back: the template, then a copied document.
    fake.script(Reply(TEMPLATE_ECHO, chunk_delay_s=0.005))
    *deltas, final = answerer(fake).stream(QUESTION, CORPUS)
    assert deltas == [] and final.abstained


def test_a_supported_sentence_carrying_control_tokens_is_dropped(fake):
    fake.script("<start_of_turn>model Employees may work remotely up to 3 days per week [1]. "
                "Requests go to your manager in Workday [1].")
    *deltas, final = answerer(fake).stream(QUESTION, CORPUS)
    assert deltas == ["Requests go to your manager in Workday [1]."] and final.text == deltas[0]
    assert "removed by Kura's checks" in final.notice
    fake.script("Employees may work remotely up to 3 days per week [1]. <|im_end|>Requests go to HR [1].")
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert "<|" not in answer.text and answer.text.startswith("Employees may work remotely")


def test_stream_hides_reasoning_of_any_spelling(fake):
    fake.script(Reply("<Thinking>Maybe it is 5 days [1]. Let me check.</THINKING>" + GOOD, chunk_delay_s=0.002))
    *deltas, final = answerer(fake).stream(QUESTION, CORPUS)
    assert "".join(deltas) == GOOD == final.text
    fake.script(Reply("<think>The answer is 5 days [1]. I ran out of budget"))  # unclosed: nothing to show
    *deltas, final = answerer(fake).stream(QUESTION, CORPUS)
    assert deltas == [] and final.abstained


def test_stream_abstains_without_a_call(fake):
    items = list(answerer(fake).stream("What is on the cafeteria menu on Fridays?", CORPUS))
    assert items[0] == NOT_FOUND_EN and items[-1].abstained and fake.completion_requests == []


def test_stream_cut_off_falls_back_to_the_extractive_answer(fake):
    fake.script(Reply(GOOD, cut_after_chunks=3))
    *_, final = answerer(fake).stream(QUESTION, CORPUS)
    assert final.answerer == "extractive" and "LLM was unavailable" in final.notice
    assert not final.abstained and final.sources


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replies", "reason", "requests"),
    [
        ([Reply(status=503, retry_after_s=0.01)] * 2, "HTTP 503 after 1 retries", 2),
        ([Reply(status=429, retry_after_s=0.01)] * 2, "429", 2),
        ([Reply(status=500)] * 2, "HTTP 500", 1),  # not retried: the server may have been computing it
        ([Reply(GOOD, delay_s=1.0)] * 2, "sent no first token within 0.3s", 1),  # not retried either
    ],
)
def test_unavailable_llm_falls_back_to_a_cited_extractive_answer(fake, replies, reason, requests):
    fake.script(*replies)
    answer = answerer(fake, llm_first_token_timeout_s=0.3).answer(QUESTION, CORPUS)
    assert answer.answerer == "extractive" and not answer.abstained
    assert answer.sentences and all(s.citations for s in answer.sentences) and answer.sources
    assert "The LLM was unavailable" in answer.notice and reason in answer.notice
    assert len(fake.completion_requests) == requests


def test_rejected_api_key_falls_back_and_says_what_to_fix(fake):
    answer = LLMAnswerer(llm_settings(fake, llm_api_key="sk-wrong")).answer(QUESTION, CORPUS)
    assert answer.answerer == "extractive" and "KURA_LLM_API_KEY" in answer.notice
    assert "sk-wrong" not in answer.notice


def test_retry_after_429_still_gives_the_llm_answer(fake):
    fake.script(Reply(status=429, retry_after_s=0.01), GOOD)
    answer = answerer(fake).answer(QUESTION, CORPUS)
    assert answer.answerer == "llm" and answer.text == GOOD


def test_endpoint_down_falls_back(fake):
    settings = llm_settings(fake, llm_max_retries=0)
    fake.stop()
    answer = LLMAnswerer(settings).answer(QUESTION, CORPUS)
    assert answer.answerer == "extractive" and "could not connect" in answer.notice


def test_a_question_the_offline_month_rule_rejects_still_reaches_the_model(fake):
    # The calendar dates its rows by month and lists no April 2027: the offline answerer abstains on its rule, but an
    # LLM is called (its NOT_FOUND judges the month; a rule's misreading costs no answer when a model is configured).
    calendar = make_hit("pay", "2026年度の給与支給日です。\n| 月 | 東京 |\n|---|---|\n| 2027年3月 | 3月25日（木） |\n",
                        title="2026年度 給与支払カレンダー")
    question = "2027年4月の東京の給与支給日はいつですか？"
    offline = answerer(fake).extractive.answer(question, [calendar])
    assert offline.abstained
    fake.script("NOT_FOUND")
    answer = answerer(fake).answer(question, [calendar])
    assert answer.abstained and len(fake.completion_requests) == 1
