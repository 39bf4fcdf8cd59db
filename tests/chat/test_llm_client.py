"""The LLM client against the fake endpoint through the real openai SDK: bounded retries, clear failures."""

from __future__ import annotations

import time

import pytest

from chat.llm_client import LLMClient
from core.errors import ConfigError, LLMUnavailableError
from tests.fakes.fake_openai import Reply

MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(fake, **kw):
    params = {"model": "fake-gpt", "api_key": fake.api_key, "timeout_s": 1.0, "max_retries": 2, **kw}
    return LLMClient(fake.base_url, **params)


def test_complete_sends_model_messages_and_limits(fake):
    fake.script("Hello [1].")
    completion = client_for(fake, max_tokens=123, temperature=0.2).complete(MESSAGES)
    assert completion.text == "Hello [1]." and completion.model == "fake-gpt" and completion.finish_reason == "stop"
    sent = fake.completion_requests[0]
    assert sent["model"] == "fake-gpt" and sent["messages"] == MESSAGES
    assert sent["max_tokens"] == 123 and sent["temperature"] == 0.2


def test_logprobs_are_passed_through(fake):
    fake.script(Reply("Yes", token_logprobs=[("Yes", -0.05, {"No": -3.0})]))
    completion = client_for(fake).complete(MESSAGES, logprobs=True, top_logprobs=2)
    assert completion.logprobs[0].token == "Yes"
    assert {t.token for t in completion.logprobs[0].top_logprobs} == {"Yes", "No"}


def test_stream_yields_deltas_and_records_the_model(fake):
    fake.script(Reply("one two three", model="served-model"))
    stream = client_for(fake).stream(MESSAGES)
    assert list(stream) == ["one ", "two ", "three"]
    assert stream.model == "served-model" and stream.finish_reason == "stop" and stream.text == "one two three"


def test_429_then_success_is_retried(fake):
    fake.script(Reply(status=429, retry_after_s=0.01), "ok")
    assert client_for(fake).complete(MESSAGES).text == "ok"
    assert len(fake.completion_requests) == 2


def test_5xx_retries_are_bounded_then_unavailable(fake):
    fake.script(*[Reply(status=500, retry_after_s=0.01) for _ in range(5)])
    with pytest.raises(LLMUnavailableError, match="HTTP 500 after 2 retries"):
        client_for(fake, max_retries=2).complete(MESSAGES)
    assert len(fake.completion_requests) == 3  # the first try and two retries, no more


def test_timeouts_are_retried_then_unavailable(fake):
    fake.script(Reply("late", delay_s=1.0), Reply("late", delay_s=1.0))
    started = time.perf_counter()
    with pytest.raises(LLMUnavailableError, match="did not answer within 0.2s"):
        client_for(fake, timeout_s=0.2, max_retries=1).complete(MESSAGES)
    assert time.perf_counter() - started < 3.0
    assert len(fake.completion_requests) == 2


def test_wrong_api_key_is_not_retried_and_the_message_names_the_setting(fake):
    with pytest.raises(LLMUnavailableError, match="KURA_LLM_API_KEY") as info:
        client_for(fake, api_key="sk-wrong-secret").complete(MESSAGES)
    assert "sk-wrong-secret" not in str(info.value)
    assert len(fake.requests) == 1


def test_endpoint_down_is_unavailable(fake):
    client = client_for(fake, max_retries=0)
    fake.stop()
    with pytest.raises(LLMUnavailableError, match="could not connect"):
        client.complete(MESSAGES)


def test_stream_cut_off_midway_is_unavailable(fake):
    fake.script(Reply("one two three four", cut_after_chunks=2))
    received = []
    with pytest.raises(LLMUnavailableError, match="broke off"):
        for delta in client_for(fake).stream(MESSAGES):
            received.append(delta)
    assert received == ["one ", "two "]


def test_stream_errors_before_the_first_token_are_unavailable(fake):
    fake.script(*[Reply(status=503, retry_after_s=0.01) for _ in range(3)])
    with pytest.raises(LLMUnavailableError, match="HTTP 503"):
        list(client_for(fake).stream(MESSAGES))


def test_credentials_in_the_base_url_never_show_in_messages(fake):
    client = LLMClient(f"http://user:hunter2@127.0.0.1:{fake.port}/v1", model="m", api_key="x", max_retries=0)
    with pytest.raises(LLMUnavailableError) as info:
        client.complete(MESSAGES)
    assert "hunter2" not in str(info.value)


def test_no_base_url_is_a_config_error():
    with pytest.raises(ConfigError, match="KURA_LLM_BASE_URL"):
        LLMClient("", model="m")
