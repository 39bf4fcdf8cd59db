"""The LLM judge against a loopback fake OpenAI server driven by the real ``openai`` client."""

from __future__ import annotations

import math

import pytest

from chat.llm_client import LLMClient
from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings
from core.types import Answer, AnswerSentence, ScoredChunk, Source
from eval.groundedness import assess_answer
from eval.judge import LLMJudge, parse_claims, parse_verdict, verdict_refusal, yes_probability
from tests.eval.helpers import chunk
from tests.fakes.fake_openai import FakeOpenAI, Reply

SOURCE = "Employees may work remotely up to 3 days per week. Requests go to the manager."


def _settings(fake: FakeOpenAI, **extra) -> Settings:
    values = {"llm_base_url": fake.base_url, "llm_api_key": fake.api_key, "llm_max_retries": 0, "llm_model": "gpt-4o-mini"}
    return Settings(**{**values, **extra})


def _is_verdict(request) -> bool:
    return "Answer Yes or No" in (request["messages"][-1]["content"] if "messages" in request else request["prompt"])


def _paths(**counts) -> dict[str, int]:
    return {"logprob": 0, "text": 0, "completion_logprob": 0, "completion_text": 0, "unparseable": 0, **counts}


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
    # No tokenizer-specific ids: nothing that would name other tokens in another model's vocabulary.
    assert verdict["logprobs"] is True and verdict["top_logprobs"] == 20 and "logit_bias" not in verdict
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
    # SentencePiece, byte-level BPE and WordPiece spellings of the same words
    assert yes_probability([("▁Yes", math.log(0.6)), ("Ġno", math.log(0.2)), ("##NO", math.log(0.2))]) == pytest.approx(0.6)
    assert yes_probability([("▁Fund", -0.1), ("▁short", -0.2)]) is None  # what tiktoken's Yes/No ids name in Gemma
    assert parse_verdict("**Yes**, the documents say so.") == 1.0 and parse_verdict("Answer: no") == 0.0
    assert parse_verdict("\n いいえ。") == 0.0 and parse_verdict("[INST] <<SYS>>") is None and parse_verdict("") is None
    assert parse_verdict("Nope") is None and parse_verdict("Yesterday it was") is None


def _sentence_answer(text: str):
    return {text: f"- {text}"}


def test_a_foreign_tokenizer_is_read_by_token_strings_and_gets_no_logit_bias():
    claim = "Employees may work remotely 3 days a week."
    with FakeOpenAI(tokenizer="sentencepiece", responder=_responder(_sentence_answer(claim), {claim: (0.7, 0.2)})) as fake:
        judge = LLMJudge(_settings(fake, llm_model="gemma-3-270m"))
        assert judge.score(claim, [SOURCE]) == pytest.approx(0.7 / 0.9, rel=1e-6)
        verdict = next(r for r in fake.completion_requests if _is_verdict(r))
        top = [t for t in fake_top_tokens(fake, judge, claim)]
    assert judge.verdicts == _paths(logprob=1)
    assert "logit_bias" not in verdict  # the fake answers 400 to logit_bias in this mode
    assert "▁Yes" in top and "Yes" not in top  # the fake really spoke SentencePiece pieces


def fake_top_tokens(fake, judge, claim):
    """The alternatives the fake returns for a verdict, as a client sees them."""
    client = LLMClient(fake.base_url, model="gemma-3-270m", api_key=fake.api_key)
    messages = [{"role": "user", "content": f"Claim: {claim}\n\nIs it supported? Answer Yes or No."}]
    completion = client.complete(messages, max_tokens=5, logprobs=True, top_logprobs=20)
    return [t.token for t in completion.logprobs[0].top_logprobs]


def test_leading_space_pieces_are_skipped_to_the_first_word():
    claim = "Requests go to the manager."
    reply = Reply("\n▁No", token_logprobs=[("\n", -0.01, {}), ("▁No", math.log(0.75), {"▁Yes": math.log(0.25)})])
    with FakeOpenAI(responder=lambda r: reply if _is_verdict(r) else Reply(f"- {claim}")) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.score(claim, [SOURCE]) == pytest.approx(0.25)
    assert judge.verdicts["logprob"] == 1


def test_an_endpoint_that_refuses_logprobs_is_judged_by_text_and_not_asked_again():
    claims = {"A.": "- A.", "B.": "- B."}
    with FakeOpenAI(logprobs_error=True, responder=_responder(claims, {"A.": (0.9, 0.1), "B.": (0.1, 0.9)}, logprobs=False)) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.score("A.", [SOURCE]) == 1.0 and judge.score("B.", [SOURCE]) == 0.0
        asked = [r for r in fake.completion_requests if r.get("logprobs")]
    assert len(asked) == 1 and not judge.logprobs_supported
    assert judge.verdicts == _paths(text=2)


def test_unparseable_verdicts_are_counted_and_most_of_them_refuse_a_figure():
    template_echo = Reply("[INST] <<SYS>>", logprobs=False)
    with FakeOpenAI(responder=lambda r: template_echo if _is_verdict(r) else Reply("- A.")) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.score("A.", [SOURCE]) == 0.0
        assert len(fake.text_completion_requests) == 1  # auto: the completion prompt was tried too, in vain
    assert judge.verdicts == _paths(unparseable=1)
    assert "1 of 1 judge verdicts" in verdict_refusal(judge.verdicts)
    assert verdict_refusal({"logprob": 5, "text": 1, "unparseable": 5}) is None  # not most
    assert verdict_refusal({"logprob": 0, "text": 0, "unparseable": 0}) is None


def test_a_reasoning_judge_is_read_after_its_thoughts():
    reply = Reply("<think>No wait, the document says 3 days.</think>Yes", logprobs=False)
    with FakeOpenAI(responder=lambda r: reply if _is_verdict(r) else Reply("<think>split it</think>- A.")) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.claims("A.") == ("A.",)
        assert judge.score("A.", [SOURCE]) == 1.0
    assert judge.verdicts["text"] == 1


def _base_model(fake_verdicts: dict[str, tuple[float, float]]):
    """A base model: a chat verdict echoes template text; a plain prompt ending "Answer:" is continued with
    " Yes"/" No" among its alternatives (P(yes), P(no) scripted per claim), after the claims are split."""

    def respond(request):
        if not _is_verdict(request):
            return Reply("- " + next(c for c in fake_verdicts if c in request["messages"][-1]["content"]))
        if "messages" in request:
            return Reply("\n\n<document>\n", token_logprobs=[("\n\n", -0.9, {" <<": -2.0}), ("<document>", -0.5, {})])
        claim = next(c for c in fake_verdicts if f"Claim: {c}" in request["prompt"])
        p_yes, p_no = fake_verdicts[claim]
        alternatives = {" Yes": math.log(p_yes), " No": math.log(p_no), " The": math.log(1 - p_yes - p_no)}
        token = " Yes" if p_yes >= p_no else " No"
        return Reply(token + ",", token_logprobs=[(token, alternatives[token], alternatives), (",", -0.1, {})])

    return respond


def test_a_base_model_is_judged_by_a_completion_prompt_read_from_its_own_token_strings():
    verdicts = {"Remote work is allowed 3 days a week.": (0.6, 0.3), "Lunch is free.": (0.1, 0.7)}
    with FakeOpenAI(tokenizer="sentencepiece", responder=_base_model(verdicts)) as fake:
        judge = LLMJudge(_settings(fake, llm_model="gemma-3-270m"))
        assert judge.score("Remote work is allowed 3 days a week.", [SOURCE]) == pytest.approx(0.6 / 0.9)
        assert judge.score("Lunch is free.", [SOURCE]) == pytest.approx(0.1 / 0.8)
        chat_verdicts = [r for r in fake.completion_requests if _is_verdict(r)]
        prompts = [r["prompt"] for r in fake.text_completion_requests]
    assert judge.verdicts == _paths(completion_logprob=2)
    # The first verdict tried chat, found no Yes/No, then the completion prompt; the second went straight there.
    assert len(chat_verdicts) == 1 and len(prompts) == 2
    assert all(p.rstrip().endswith("Answer:") and SOURCE in p for p in prompts)
    assert "judge_completion/v1@" in judge.name


def test_a_completion_reply_without_logprobs_is_read_from_its_text():
    verdicts = {"Lunch is free.": (0.1, 0.7)}
    with FakeOpenAI(logprobs_supported=False, responder=_base_model(verdicts)) as fake:
        judge = LLMJudge(_settings(fake, eval_judge_style="completion"))
        assert judge.score("Lunch is free.", [SOURCE]) == 0.0
        assert not [r for r in fake.completion_requests if _is_verdict(r)]  # completion style: no chat verdicts
    assert judge.verdicts == _paths(completion_text=1)


def test_an_endpoint_without_the_completions_api_is_not_asked_again():
    template_echo = Reply("[INST] <<SYS>>", logprobs=False)
    with FakeOpenAI(completions_supported=False, responder=lambda r: template_echo if _is_verdict(r) else Reply("- A.")) as fake:
        judge = LLMJudge(_settings(fake))
        assert judge.score("A.", [SOURCE]) == 0.0 and judge.score("A.", ["Another source."]) == 0.0
        refused = fake.text_completion_requests
    assert len(refused) == 1 and not judge.completions_supported
    assert judge.verdicts == _paths(unparseable=2)


def test_chat_style_never_uses_the_completions_api():
    claims = {"A.": "- A."}
    with FakeOpenAI(responder=_responder(claims, {"A.": (0.9, 0.1)})) as fake:
        judge = LLMJudge(_settings(fake, eval_judge_style="chat"))
        judge.score("A.", [SOURCE])
        assert not fake.text_completion_requests
    assert judge.verdicts == _paths(logprob=1) and "judge_completion" not in judge.name
