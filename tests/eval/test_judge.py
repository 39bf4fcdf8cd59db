"""The LLM judge against a loopback fake OpenAI server driven by the real ``openai`` client."""

from __future__ import annotations

import math

import pytest

from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings
from core.tokens import encoding_for_model
from core.types import Answer, AnswerSentence, ScoredChunk, Source
from eval.groundedness import assess_answer
from eval.judge import LLMJudge, parse_claims, yes_probability
from tests.eval.helpers import chunk
from tests.fakes.fake_openai import FakeOpenAI, Reply

SOURCE = "Employees may work remotely up to 3 days per week. Requests go to the manager."


def _settings(fake: FakeOpenAI, **extra) -> Settings:
    return Settings(llm_base_url=fake.base_url, llm_api_key=fake.api_key, llm_max_retries=0, llm_model="gpt-4o-mini", **extra)


def _is_verdict(request) -> bool:
    return request.get("max_tokens") == 1


def _responder(claims: dict[str, str], verdicts: dict[str, tuple[float, float]], *, logprobs: bool = True):
    """Decomposition: the scripted claims for the sentence. Verdict: P(yes), P(no) for the claim asked about."""

    def respond(request):
        user = request["messages"][-1]["content"]
        if not _is_verdict(request):
            sentence = next(s for s in claims if s in user)
            return Reply(claims[sentence])
        claim = next(c for c in verdicts if f"Claim: {c}" in user)
        p_yes, p_no = verdicts[claim]
        token = "Yes" if p_yes >= p_no else "No"
        if not logprobs:
            return Reply(token, logprobs=False)
        alternatives = {"Yes": math.log(p_yes), "No": math.log(p_no), "Maybe": math.log(max(1e-6, 1 - p_yes - p_no))}
        return Reply(token, token_logprobs=[(token, alternatives[token], alternatives)])

    return respond


def test_claim_score_is_p_yes_over_p_yes_plus_p_no_from_logprobs():
    sentence = "Employees may work remotely 3 days a week."
    with FakeOpenAI(responder=_responder({sentence: "- Employees may work remotely 3 days a week."},
                                         {"Employees may work remotely 3 days a week.": (0.8, 0.15)})) as fake:
        judge = LLMJudge(_settings(fake))
        score = judge.score(sentence, [SOURCE])
        assert score == pytest.approx(0.8 / 0.95, rel=1e-6)
        assert judge.logprob_replies == 1
        verdict = next(r for r in fake.completion_requests if _is_verdict(r))
    encoding = encoding_for_model("gpt-4o-mini")
    yes, no = encoding.encode("Yes")[0], encoding.encode("No")[0]
    assert verdict["logprobs"] is True and verdict["top_logprobs"] == 5 and verdict["max_tokens"] == 1
    assert verdict["logit_bias"] == {str(yes): 100, str(no): 100}
    assert verdict["model"] == "gpt-4o-mini"
    # sources are quoted as data
    assert f"<document>\n{SOURCE}\n</document>" in verdict["messages"][-1]["content"]


def test_a_sentence_scores_as_its_weakest_claim():
    sentence = "Employees may work remotely 3 days a week and need HR approval."
    claims = "- Employees may work remotely 3 days a week.\n- Remote work needs HR approval.\n"
    verdicts = {"Employees may work remotely 3 days a week.": (0.9, 0.1), "Remote work needs HR approval.": (0.1, 0.85)}
    with FakeOpenAI(responder=_responder({sentence: claims}, verdicts)) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.score(sentence, [SOURCE]) == pytest.approx(0.1 / 0.95, rel=1e-6)
        judge.score(sentence, [SOURCE, "another source"])
        decompositions = [r for r in fake.completion_requests if not _is_verdict(r)]
    assert len(decompositions) == 1  # the sentence's claims are cached across source sets


def test_without_logprobs_the_reply_text_decides():
    sentence = "Requests go to the manager."
    verdicts = {"Requests go to the manager.": (0.9, 0.1), "Requests go to HR.": (0.2, 0.8)}
    claims = {sentence: "- Requests go to the manager.", "Requests go to HR.": "- Requests go to HR."}
    with FakeOpenAI(responder=_responder(claims, verdicts, logprobs=False)) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.score(sentence, [SOURCE]) == 1.0
        assert judge.score("Requests go to HR.", [SOURCE]) == 0.0
        assert judge.logprob_replies == 0


def test_an_empty_decomposition_judges_the_whole_sentence():
    with FakeOpenAI(responder=_responder({"Hello.": ""}, {"Hello.": (0.3, 0.6)})) as fake:
        assert LLMJudge(_settings(fake)).score("Hello.", [SOURCE]) == pytest.approx(1 / 3, rel=1e-6)


def test_the_judge_drives_groundedness_of_an_answer():
    good, bad = "Remote work is allowed 3 days a week.", "Remote work is allowed 5 days a week."
    claims = {good: f"- {good}", bad: f"- {bad}"}
    with FakeOpenAI(responder=_responder(claims, {good: (0.95, 0.05), bad: (0.02, 0.97)})) as fake:
        judge = LLMJudge(_settings(fake))
        c = chunk("d", SOURCE, 0)
        answer = Answer(
            question="?",
            text=f"{good} [1] {bad} [1]",
            sentences=(AnswerSentence(good, (1,)), AnswerSentence(bad, (1,))),
            sources=(Source(1, "d", c.id, "t", "", SOURCE[:20]),),
            abstained=False,
            answerer="test",
            retrieved=(ScoredChunk(c, 1.0),),
        )
        result = assess_answer(answer, [c], judge, threshold=0.5)
    assert result.supported_fraction == 0.5
    assert [s.citation_supports[1] for s in result.sentences] == [True, False]


def test_a_failing_endpoint_is_an_llm_unavailable_error():
    with FakeOpenAI(default=Reply(status=503)) as fake:
        judge = LLMJudge(_settings(fake))
        with pytest.raises(LLMUnavailableError, match="HTTP 503"):
            judge.score("Anything.", [SOURCE])


def test_the_judge_needs_an_endpoint_and_may_use_its_own():
    with pytest.raises(ConfigError, match="KURA_EVAL_JUDGE_BASE_URL"):
        LLMJudge(Settings())
    with FakeOpenAI(responder=_responder({"X.": "- X."}, {"X.": (0.6, 0.4)})) as fake:
        judge = LLMJudge(Settings(eval_judge_base_url=fake.base_url, eval_judge_api_key=fake.api_key, eval_judge_model="judge-m"))
        assert judge.score("X.", ["x"]) == pytest.approx(0.6)
        assert {r["model"] for r in fake.completion_requests} == {"judge-m"}


def test_parsing_helpers():
    assert parse_claims("- a\n\n* b\n1. c\n• d", 3) == ["a", "b", "c"]
    assert yes_probability([(" yes", math.log(0.3)), ("YES", math.log(0.1)), ("No", math.log(0.4))]) == pytest.approx(0.5)
    assert yes_probability([("Maybe", -0.1)]) is None
