"""The Slack fakes answer malformed calls with the errors Slack documents, so a wrong call fails its test."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.fake_slack import FakeSlack
from tests.fakes.fake_slack_web import FakeSlackWeb


@pytest.fixture
def web():
    with FakeSlackWeb() as fake:
        fake.add_channel("C1", members=[fake.bot_user_id])
        yield fake


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def test_bot_fake_rejects_an_unknown_argument(web):
    client = WebClient(token=web.token, base_url=web.url)
    assert error_of(lambda: client.chat_postMessage(channel="C1", text="hi", colour="red")) == "invalid_arg_name"


def test_bot_fake_rejects_a_missing_token(web):
    client = WebClient(base_url=web.url)
    assert error_of(lambda: client.chat_postMessage(channel="C1", text="hi")) == "not_authed"


@pytest.mark.parametrize("blocks", [
    [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
    [{"type": "context", "elements": [{"type": "mrkdwn", "text": "y"}]}] * 51,
    [{"type": "actions", "elements": [{"type": "button", "action_id": "a", "url": "https://k.example/?q=" + "%E7" * 1000,
                                       "text": {"type": "plain_text", "text": "Open"}}]}],
])
def test_bot_fake_rejects_oversize_blocks(web, blocks):
    client = WebClient(token=web.token, base_url=web.url)
    assert error_of(lambda: client.chat_postMessage(channel="C1", text="hi", blocks=blocks)) == "invalid_blocks"
    assert not web.messages.get("C1")


def test_connector_fake_rejects_an_unknown_argument_and_a_missing_token():
    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.url + "/api/")
        assert error_of(lambda: client.conversations_history(channel="C1", since="0")) == "invalid_arg_name"
        assert error_of(lambda: WebClient(base_url=fake.url + "/api/").users_list()) == "not_authed"
