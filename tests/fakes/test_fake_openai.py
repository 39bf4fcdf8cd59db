"""The fake OpenAI server speaks the API as the real ``openai`` client expects it."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def client(fake, **kw):
    return openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=kw.pop("max_retries", 0), **kw)


def test_non_streaming_completion_and_recorded_request(fake):
    fake.script("Hello there [1].")
    resp = client(fake).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == "Hello there [1]."
    assert resp.model == "m" and resp.choices[0].finish_reason == "stop"
    assert fake.completion_requests[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_streaming_completion_reassembles_the_text(fake):
    fake.script(Reply("One two three.", chunk_delay_s=0.01))
    stream = client(fake).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two three."
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 3
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_scripted_logprobs_and_top_logprobs(fake):
    fake.script(Reply("Yes", token_logprobs=[("Yes", -0.2, {"No": -1.8})]))
    resp = client(fake).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "?"}], logprobs=True, top_logprobs=3
    )
    entry = resp.choices[0].logprobs.content[0]
    assert entry.token == "Yes" and entry.logprob == -0.2
    assert [t.token for t in entry.top_logprobs][:2] == ["Yes", "No"] and len(entry.top_logprobs) == 3


def test_derived_logprobs_and_a_mode_without_them(fake):
    fake.script("A b", Reply("A b", logprobs=False))
    c = client(fake)
    with_lp = c.chat.completions.create(model="m", messages=[], logprobs=True, top_logprobs=1)
    assert [e.token for e in with_lp.choices[0].logprobs.content] == ["A ", "b"]
    without = c.chat.completions.create(model="m", messages=[], logprobs=True, top_logprobs=1)
    assert without.choices[0].logprobs is None
    unasked = c.chat.completions.create(model="m", messages=[])
    assert unasked.choices[0].logprobs is None


def test_server_wide_no_logprobs_mode():
    with FakeOpenAI(logprobs_supported=False, default=Reply("Yes")) as fake:
        resp = client(fake).chat.completions.create(model="m", messages=[], logprobs=True, top_logprobs=2)
        assert resp.choices[0].logprobs is None


def test_streamed_logprobs(fake):
    fake.script(Reply("Yes", token_logprobs=[("Yes", -0.1, {"No": -2.5})]))
    chunks = list(
        client(fake).chat.completions.create(model="m", messages=[], stream=True, logprobs=True, top_logprobs=2)
    )
    lps = [c.choices[0].logprobs.content[0] for c in chunks if c.choices and c.choices[0].logprobs]
    assert [(e.token, e.logprob) for e in lps] == [("Yes", -0.1)]


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, openai.RateLimitError), (500, openai.InternalServerError), (503, openai.InternalServerError)],
)
def test_error_codes(fake, status, error):
    fake.script(Reply(status=status, retry_after_s=0.01))
    with pytest.raises(error):
        client(fake).chat.completions.create(model="m", messages=[])


def test_wrong_api_key_is_401(fake):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0).chat.completions.create(
            model="m", messages=[]
        )


def test_the_client_retries_a_429_and_honours_retry_after(fake):
    fake.script(Reply(status=429, retry_after_s=0.01), "ok")
    resp = client(fake, max_retries=1).chat.completions.create(model="m", messages=[])
    assert resp.choices[0].message.content == "ok" and len(fake.completion_requests) == 2


def test_slow_reply_times_the_client_out(fake):
    fake.script(Reply("late", delay_s=1.0))
    with pytest.raises(openai.APITimeoutError):
        client(fake, timeout=0.2).chat.completions.create(model="m", messages=[])


def test_cut_stream_raises_in_the_client(fake):
    fake.script(Reply("one two three four", cut_after_chunks=2))
    stream = client(fake).chat.completions.create(model="m", messages=[], stream=True)
    with pytest.raises((httpx.HTTPError, openai.APIError)):
        for _ in stream:
            pass


def test_models_listing_and_stopped_server_refuses(fake):
    assert [m.id for m in client(fake).models.list()] == ["fake-model"]
    fake.stop()
    with pytest.raises(openai.APIConnectionError):
        client(fake).chat.completions.create(model="m", messages=[])
