"""The LLM answerer's gate: the model is called for a paraphrase the old word-overlap gate blocked."""

from __future__ import annotations

from chat.answerability import AnswerabilityModel
from chat.evidence import evidence
from chat.extractive import NOT_FOUND_EN, ExtractiveAnswerer
from chat.llm_answerer import LLMAnswerer
from tests.chat.conftest import CORPUS, llm_settings

PARAPHRASE = "How frequently may staff telework?"  # shares one word with the policy: old evidence 0.16


def gated_answerer(fake, embedder) -> LLMAnswerer:
    # As the app wires it: one answerability model, with Kura's embedder, shared by both answerers.
    extractive = ExtractiveAnswerer(answerability=AnswerabilityModel(embedder))
    return LLMAnswerer(llm_settings(fake), extractive=extractive)


def test_a_paraphrase_the_old_gate_blocked_now_reaches_the_model(fake, embedder):
    assert evidence(PARAPHRASE, CORPUS) < 0.30  # the old gate abstained here without calling the model
    fake.script("Employees may work remotely up to 3 days per week [1].")
    answer = gated_answerer(fake, embedder).answer(PARAPHRASE, CORPUS)
    assert len(fake.completion_requests) == 1
    assert not answer.abstained and "3 days per week" in answer.text


def test_the_gate_still_saves_the_call_when_nothing_relevant_was_found(fake, embedder):
    answer = gated_answerer(fake, embedder).answer("What is the cafeteria lunch menu on Fridays?", CORPUS)
    assert answer.abstained and answer.text == NOT_FOUND_EN
    assert fake.completion_requests == []


def test_streaming_uses_the_same_gate(fake, embedder):
    fake.script("Employees may work remotely up to 3 days per week [1].")
    items = list(gated_answerer(fake, embedder).stream(PARAPHRASE, CORPUS))
    assert len(fake.completion_requests) == 1 and not items[-1].abstained
