"""The LLM client against the fake endpoint through the real openai SDK: bounded retries, clear failures."""

from __future__ import annotations

import time

import pytest

from chat.llm_client import LLMClient, LLMStatusError
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


def test_a_text_completion_returns_its_logprobs_in_the_chat_shape(fake):
    fake.script(Reply(" No.", token_logprobs=[(" No", -0.4, {" Yes": -1.2}), (".", -0.1, {})]))
    completion = client_for(fake).complete_text("Claim: X\nAnswer:", max_tokens=3, temperature=0.0, logprobs=5)
    assert completion.text == " No." and completion.finish_reason == "stop"
    assert [e.token for e in completion.logprobs] == [" No", "."]
    assert {(t.token, t.logprob) for t in completion.logprobs[0].top_logprobs} >= {(" No", -0.4), (" Yes", -1.2)}
    sent = fake.text_completion_requests[0]
    assert sent["prompt"] == "Claim: X\nAnswer:" and sent["logprobs"] == 5 and not sent.get("stream")


def test_a_chat_only_endpoint_refuses_text_completions_with_a_status(fake):
    fake.completions_supported = False
    with pytest.raises(LLMStatusError) as refused:
        client_for(fake).complete_text("Answer:")
    assert refused.value.status_code == 404 and len(fake.text_completion_requests) == 1


def test_stream_yields_deltas_and_records_the_model(fake):
    fake.script(Reply("one two three", model="served-model"))
    stream = client_for(fake).stream(MESSAGES)
    assert list(stream) == ["one ", "two ", "three"]
    assert stream.model == "served-model" and stream.finish_reason == "stop" and stream.text == "one two three"


def test_429_then_success_is_retried(fake):
    fake.script(Reply(status=429, retry_after_s=0.01), "ok")
    assert client_for(fake).complete(MESSAGES).text == "ok"
    assert len(fake.completion_requests) == 2


def test_refusals_are_retried_with_a_bound_then_unavailable(fake):
    fake.script(*[Reply(status=503, retry_after_s=0.01) for _ in range(5)])
    with pytest.raises(LLMUnavailableError, match="HTTP 503 after 2 retries"):
        client_for(fake, max_retries=2).complete(MESSAGES)
    assert len(fake.completion_requests) == 3  # the first try and two retries, no more


def test_a_500_is_not_sent_again(fake):
    # The server may have computed (part of) it: a retry would make it compute the request twice.
    fake.script(Reply(status=500), "ok")
    with pytest.raises(LLMStatusError, match="HTTP 500") as info:
        client_for(fake, max_retries=2).complete(MESSAGES)
    assert info.value.status_code == 500 and len(fake.completion_requests) == 1


def test_requests_stream_by_default_and_complete_assembles_the_text(fake):
    fake.script("one two three", "four")
    assert client_for(fake).complete(MESSAGES).text == "one two three"
    assert fake.completion_requests[0]["stream"] is True
    assert client_for(fake, stream=False).complete(MESSAGES).text == "four"
    assert not fake.completion_requests[1].get("stream")


def test_no_first_token_in_time_fails_fast_and_is_not_retried(fake):
    # Headers and the role event come at once; the first token would come after 2 s.
    fake.script(Reply("late answer", chunk_delay_s=2.0), "second")
    # The watchdog's message (the socket's own read timeout would say "broke off") proves what cut it.
    with pytest.raises(LLMUnavailableError, match="sent no first token within 0.3s \\(the request was closed"):
        client_for(fake, first_token_timeout_s=0.3, idle_timeout_s=5.0, max_retries=2).complete(MESSAGES)
    assert len(fake.completion_requests) == 1


def test_headers_that_never_come_count_as_no_first_token(fake):
    fake.script(Reply("late", delay_s=2.0))
    with pytest.raises(LLMUnavailableError, match="sent no first token within 0.3s \\(not retried"):
        client_for(fake, first_token_timeout_s=0.3, idle_timeout_s=0.3, max_retries=2).complete(MESSAGES)
    assert len(fake.completion_requests) == 1


def test_a_slow_but_steady_stream_is_not_cut_by_a_whole_answer_limit(fake):
    # 8 tokens 0.15 s apart = 1.2 s in all, longer than any per-token limit here: it must still complete.
    fake.script(Reply("a b c d e f g h", chunk_delay_s=0.15))
    client = client_for(fake, first_token_timeout_s=0.5, idle_timeout_s=0.5, timeout_s=0.5)
    assert client.complete(MESSAGES).text == "a b c d e f g h"


def test_a_stream_gone_quiet_is_closed_so_the_server_stops(fake):
    fake.script(Reply("one two three four five six", stall_after_chunks=2, stall_s=10.0))
    received = []
    # The socket's own backstop (30 s) is far longer than the stall (10 s): only the idle watchdog's shutdown
    # can close the connection during the stall, and the fake records when it saw the client go. (The idle
    # limit is 2 s, not less: on a loaded machine a reader may lag that long between two buffered tokens.)
    with pytest.raises(LLMUnavailableError, match="no next token within 2s"):
        for delta in client_for(fake, first_token_timeout_s=30.0, idle_timeout_s=2.0).stream(MESSAGES):
            received.append(delta)
    assert received == ["one ", "two "]
    waited = time.monotonic()
    while fake.client_left_after_s is None and time.monotonic() - waited < 5.0:
        time.sleep(0.05)  # the fake's thread notices the closed connection on its own schedule
    assert fake.client_left_after_s is not None and fake.client_left_after_s < 10.0
    assert fake.content_events_sent == 2  # the server stopped: nothing after the stall


def test_a_consumer_that_stops_reading_closes_the_connection(fake):
    fake.script(Reply(" ".join(["w"] * 30), chunk_delay_s=0.05))
    stream = client_for(fake).stream(MESSAGES)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    time.sleep(0.5)
    assert fake.content_events_sent < 10


def test_non_streaming_timeout_is_not_retried(fake):
    fake.script(Reply("late", delay_s=1.0), Reply("late", delay_s=1.0))
    with pytest.raises(LLMUnavailableError, match="did not answer within 0.2s"):
        client_for(fake, stream=False, timeout_s=0.2, max_retries=1).complete(MESSAGES)
    assert len(fake.completion_requests) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "<think>The user wants hours.</think>Open 9-5 [1].",
        "<THINKING>\nlong\nthoughts</Thinking>\n\nOpen 9-5 [1].",
        "Hidden reasoning without an opening tag </think>Open 9-5 [1].",
    ],
)
def test_reasoning_is_stripped_from_completions_and_streams(fake, raw):
    fake.script(raw, raw)
    completion = client_for(fake).complete(MESSAGES)
    assert completion.text == "Open 9-5 [1]." and completion.raw_text == raw
    stream = client_for(fake).stream(MESSAGES)
    deltas = list(stream)
    assert stream.text == "Open 9-5 [1]."
    if raw.startswith("<"):  # an opening tag: nothing of the reasoning is ever yielded
        assert "".join(deltas) == "Open 9-5 [1]."


def test_a_stream_ending_in_what_looked_like_a_tag_still_yields_it(fake):
    # "<b" might have become a tag, so the filter held it back; the stream's end shows it was text.
    fake.script("Compare the two values: a <b")
    deltas = list(client_for(fake).stream(MESSAGES))
    assert "".join(deltas) == "Compare the two values: a <b"


def test_an_unclosed_reasoning_block_yields_no_text(fake):
    fake.script("<think>still thinking when the budget ran out", "<think>x</think>done")
    assert client_for(fake).complete(MESSAGES).text == ""
    assert client_for(fake, stream=False).complete(MESSAGES).text == "done"


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


def test_a_refused_connection_is_retried_it_never_reached_a_server(fake):
    client = client_for(fake, max_retries=2)
    fake.stop()
    started = time.perf_counter()
    with pytest.raises(LLMUnavailableError, match="could not connect .* after 2 retries"):
        client.complete(MESSAGES)
    assert time.perf_counter() - started >= 1.4  # backoff 0.5 s + 1 s


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
