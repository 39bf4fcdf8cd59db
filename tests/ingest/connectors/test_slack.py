"""Slack connector against the fake Slack Web API, through slack-sdk's WebClient."""

from __future__ import annotations

import pytest

from core.errors import ConnectorAuthError
from ingest.connectors.slack import SlackConnector
from tests.fakes.http_fake import Response
from tests.fakes.seeds import slack_settings_for
from tests.ingest.connectors.helpers import deleted_of, docs_of, drain, failures_of, stores


@pytest.fixture
def setup(slack, tmp_path):
    settings = slack_settings_for(slack, tmp_path)
    checkpoints, identity = stores(settings)
    return SlackConnector(settings, checkpoints, identity), checkpoints, identity


def doc_id(channel: str, ts: str) -> str:
    return f"slack:{channel}:{ts}"


def test_full_sync_makes_one_document_per_thread_with_markup_resolved(setup, slack):
    connector, checkpoints, _ = setup
    docs = docs_of(drain(connector.poll(), checkpoints))

    t = slack.threads
    assert set(docs) == {doc_id("C1", t["vpn"]), doc_id("C1", t["lunch"]), doc_id("C1", t["ja"]),
                         doc_id("G1", t["layoffs"])}  # C2: the bot is not a member
    vpn = docs[doc_id("C1", t["vpn"])]
    assert [s.text for s in vpn.sections] == [
        "Aiko Tanaka: Where is the VPN guide (https://wiki.example.com/vpn)? cc @Ben Ito",
        "Ben Ito: See #general pinned: run `vpn-setup.sh` & reboot",
    ]
    assert all(s.kind == "message" for s in vpn.sections)
    assert vpn.title.startswith("#general: Where is the VPN guide")
    assert vpn.url == f"https://kura-test.slack.com/archives/C1/p{t['vpn'].replace('.', '')}"
    assert vpn.author == "Aiko Tanaka"
    assert vpn.metadata["channel"] == "general"
    assert vpn.principals == ("public",)
    assert "全社会議は木曜日" in docs[doc_id("C1", t["ja"])].text


def test_private_channel_documents_and_membership_are_recorded(setup, slack):
    connector, checkpoints, identity = setup
    docs = docs_of(drain(connector.poll(), checkpoints))

    assert docs[doc_id("G1", slack.threads["layoffs"])].principals == ("slack:G1",)
    assert "slack:G1" in identity.principals_for("ben@example.com")
    assert "slack:G1" not in identity.principals_for("chen@example.com")
    assert identity.email_for("slack:U3") == "chen@example.com"


def test_second_sync_without_changes_fetches_no_threads(setup, slack):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    slack.clear_requests()

    assert drain(connector.poll(), checkpoints) == []
    assert not slack.requests_to("conversations.replies")


def test_new_reply_refreshes_the_thread_and_new_messages_are_added(setup, slack):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    slack.reply("C1", slack.threads["lunch"], "U1", "Yes, ramen!")
    new = slack.post("C1", "U2", "Deploy freeze starts Friday")
    slack.clear_requests()

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert set(docs) == {doc_id("C1", slack.threads["lunch"]), doc_id("C1", new)}
    assert docs[doc_id("C1", slack.threads["lunch"])].text.endswith("Aiko Tanaka: Yes, ramen!")
    assert [r.arg("ts") for r in slack.requests_to("conversations.replies")] == [slack.threads["lunch"]]


def test_edited_parent_is_refreshed(setup, slack):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    slack.edit("C1", slack.threads["ja"], "来週の全社会議は金曜日に変更になりました。")

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert "金曜日に変更" in docs[doc_id("C1", slack.threads["ja"])].text


def test_deleted_thread_and_channel_the_bot_left_are_deletions(setup, slack):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    slack.delete("C1", slack.threads["lunch"])
    slack.channels["G1"].bot_member = False

    batches = drain(connector.poll(), checkpoints)

    assert sorted(deleted_of(batches)) == sorted([doc_id("C1", slack.threads["lunch"]),
                                                  doc_id("G1", slack.threads["layoffs"])])


@pytest.mark.parametrize("refresh_days", [14.0, 0.0])
def test_channel_turned_private_changes_principals_of_all_its_threads(slack, tmp_path, refresh_days):
    settings = slack_settings_for(slack, tmp_path, slack_refresh_days=refresh_days)
    checkpoints, identity = stores(settings)
    connector = SlackConnector(settings, checkpoints, identity)
    drain(connector.poll(), checkpoints)
    slack.channels["C1"].private = True
    slack.channels["C1"].members = ["U1"]

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert len(docs) == 3 and all(d.principals == ("slack:C1",) for d in docs.values())
    assert "slack:C1" not in identity.principals_for("ben@example.com")


def test_rate_limit_honours_retry_after(setup, slack):
    connector, checkpoints, _ = setup
    slack.inject("conversations.history", Response(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))

    assert len(docs_of(drain(connector.poll(), checkpoints))) == 4
    first, second = slack.requests_to("conversations.history")[:2]
    assert second.at - first.at >= 1.0


def test_broken_thread_is_a_failure_and_the_rest_syncs_then_it_is_retried(setup, slack):
    connector, checkpoints, _ = setup
    slack.channels["C1"].broken_threads.add(slack.threads["vpn"])

    batches = drain(connector.poll(), checkpoints)

    assert [f.source_id for f in failures_of(batches)] == [f"C1:{slack.threads['vpn']}"]
    assert len(docs_of(batches)) == 3
    slack.channels["C1"].broken_threads.clear()
    assert list(docs_of(drain(connector.poll(), checkpoints))) == [doc_id("C1", slack.threads["vpn"])]


def test_expired_token_stops_at_once_with_a_hint(setup, slack):
    connector, checkpoints, _ = setup
    slack.expired = True

    with pytest.raises(ConnectorAuthError, match="KURA_SLACK_BOT_TOKEN"):
        drain(connector.poll(), checkpoints)
    assert len(slack.requests) == 1


def test_interrupted_sync_resumes_without_refetching(setup, slack):
    connector, checkpoints, _ = setup
    first = docs_of(drain(connector.poll(), checkpoints, stop_after=1))
    assert len(first) == 2
    slack.clear_requests()

    rest = docs_of(drain(connector.poll(), checkpoints))

    assert len(rest) == 2 and not set(rest) & set(first)
    refetched = {doc_id(r.arg("channel"), r.arg("ts")) for r in slack.requests_to("conversations.replies")}
    assert refetched and refetched <= set(rest)


def test_channel_filter_by_name(slack, tmp_path):
    settings = slack_settings_for(slack, tmp_path, slack_channels=["#leadership"])
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(SlackConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert list(docs) == [doc_id("G1", slack.threads["layoffs"])]


def test_full_reload_catches_an_edited_reply(setup, slack):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    reply = slack.channels["C1"].messages[0]["replies"][0]
    reply["text"] = "Run `vpn-setup.sh --fix` instead"  # edits of replies change no thread field

    assert drain(connector.poll(), checkpoints) == []
    docs = docs_of(drain(connector.load(), checkpoints))

    assert "vpn-setup.sh --fix" in docs[doc_id("C1", slack.threads["vpn"])].text
