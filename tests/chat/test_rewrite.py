"""Follow-up questions become standalone search queries: by the LLM, or by the last turns' key terms."""

from __future__ import annotations

import pytest

from chat.llm_client import LLMClient
from chat.rewrite import QueryRewriter
from tests.fakes.fake_openai import Reply

HISTORY = [
    ("user", "How many vacation days do employees in Germany get?"),
    ("assistant", "Employees in Germany get 30 vacation days [1]."),
]


def client_for(fake, **kw):
    return LLMClient(fake.base_url, model="fake-gpt", api_key=fake.api_key, timeout_s=1.0, max_retries=0, **kw)


def test_without_history_the_question_is_unchanged():
    rewrite = QueryRewriter().rewrite("What about Japan?", [])
    assert (rewrite.query, rewrite.method) == ("What about Japan?", "unchanged")


def test_without_an_llm_the_last_user_turns_key_terms_are_added():
    rewrite = QueryRewriter().rewrite("What about Japan?", HISTORY)
    assert rewrite.method == "keywords"
    assert rewrite.query == "What about Japan? vacation days employees germany get"


def test_key_terms_come_from_user_turns_only_and_are_not_repeated():
    history = [*HISTORY, ("user", "And for part-time employees?"), ("assistant", "Part-time staff get 15 days [2].")]
    query = QueryRewriter(max_terms=4).rewrite("What about Japan?", history).query
    assert query == "What about Japan? part time employees vacation"
    assert "staff" not in query  # assistant words are left out


def test_japanese_follow_ups_use_the_japanese_tokenizer():
    history = [("user", "経費精算の締め切りはいつですか？")]
    query = QueryRewriter().rewrite("上限は？", history).query
    assert query.startswith("上限は？ ") and "経費" in query and "精算" in query


def test_the_llm_rewrites_with_the_conversation(fake):
    fake.script("number of vacation days for employees in Japan")
    rewrite = QueryRewriter(client=client_for(fake)).rewrite("What about Japan?", HISTORY)
    assert (rewrite.query, rewrite.method) == ("number of vacation days for employees in Japan", "llm")
    user = fake.completion_requests[0]["messages"][1]["content"]
    assert "user: How many vacation days do employees in Germany get?" in user
    assert "Follow-up question: What about Japan?" in user
    assert fake.completion_requests[0]["max_tokens"] == 64


def test_llm_prefixes_and_quotes_are_cleaned(fake):
    fake.script('Standalone search query: "vacation days Japan"\nThis query resolves the reference.')
    assert QueryRewriter(client=client_for(fake)).rewrite("What about Japan?", HISTORY).query == "vacation days Japan"


@pytest.mark.parametrize("reply", [Reply(status=500), Reply(""), Reply("x" * 400), Reply("NOT_FOUND")])
def test_llm_failure_or_unusable_reply_falls_back_to_key_terms(fake, reply):
    fake.script(reply)
    rewrite = QueryRewriter(client=client_for(fake)).rewrite("What about Japan?", HISTORY)
    assert rewrite.method == "keywords" and "germany" in rewrite.query


def test_bad_history_is_a_clear_error():
    with pytest.raises(ValueError, match="role 'user' or 'assistant'"):
        QueryRewriter().rewrite("What about Japan?", [("bot", "hi")])


def test_history_as_dicts_is_accepted():
    history = [{"role": "user", "content": "VPN client install steps"}]
    assert QueryRewriter().rewrite("and on Mac?", history).query == "and on Mac? vpn client install steps"
