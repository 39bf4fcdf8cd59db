"""The channel audience rule against the fake Slack Web API: intersection over members, conservative fallbacks."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bots.slack.permissions import NOBODY, SlackAccess
from core.identity import IdentityStore
from tests.fakes.fake_slack_web import FakeSlackWeb


@pytest.fixture
def world(tmp_path):
    identity = IdentityStore(tmp_path / "identity.sqlite")
    identity.replace_grants("test", {
        "alice@example.com": ["group:finance", "group:eng", "slack:CENG"],
        "carol@example.com": ["group:eng", "slack:CENG"],
        "dave@example.com": ["group:eng", "slack:CENG"],
    })
    identity.add_alias("slack:UALICE", "alice@example.com")
    with FakeSlackWeb() as slack:
        slack.add_user("UALICE")  # no email in Slack's profile: the connector's alias supplies it
        slack.add_user("UCAROL", email="carol@example.com")
        slack.add_user("UDAVE", email="dave@example.com")
        slack.add_user("UNOMAIL")
        slack.add_user("UBOT2", is_bot=True)
        yield slack, identity, SlackAccess(WebClient(token=slack.token, base_url=slack.url), identity)


def test_dm_uses_the_askers_own_principals(world):
    slack, _, access = world
    assert "group:finance" in access.conversation_principals("DALICE", "UALICE")
    assert slack.calls_to("conversations.members") == []


def test_channel_gets_the_intersection_of_its_human_members(world):
    slack, _, access = world
    slack.add_channel("CENG", members=["UALICE", "UCAROL", "UDAVE", "UBOT2", slack.bot_user_id], is_private=True)
    access_ = access.conversation_principals("CENG", "UALICE")
    assert set(access_) == {"public", "group:eng", "slack:CENG", "domain:example.com"}  # not Alice's finance group


def test_members_are_read_across_pages(world):
    slack, _, access = world
    members = ["UALICE", "UCAROL", "UDAVE"] + [f"UB{i}" for i in range(250)]
    for user in members[3:]:
        slack.add_user(user, is_bot=True)
    slack.add_channel("CBIG", members=members)
    access.conversation_principals("CBIG", "UALICE")
    pages = slack.calls_to("conversations.members")
    assert len(pages) == 2 and pages[1]["cursor"] == "200"


def test_a_member_without_a_known_email_limits_the_channel_to_public(world):
    slack, _, access = world
    slack.add_channel("CMIX", members=["UALICE", "UNOMAIL"])
    assert access.conversation_principals("CMIX", "UALICE") == ("public",)


def test_fallbacks_are_public_only_or_nothing(world, tmp_path):
    slack, identity, _ = world
    access = SlackAccess(WebClient(token=slack.token, base_url=slack.url), identity, max_members=2)
    slack.add_channel("CTHREE", members=["UALICE", "UCAROL", "UDAVE"])
    assert access.conversation_principals("CTHREE", "UALICE") == ("public",)  # too many members to check
    assert access.conversation_principals("CUNKNOWN", "UALICE") == ("public",)  # channel_not_found
    slack.add_user("UGUEST", is_restricted=True)
    slack.add_channel("CGUEST", members=["UALICE", "UGUEST"])
    assert access.conversation_principals("CGUEST", "UALICE") == NOBODY
    slack.add_channel("CEXT", members=["UALICE"], is_ext_shared=True)
    assert access.conversation_principals("CEXT", "UALICE") == NOBODY


def test_user_lookups_are_cached_but_expire(world):
    slack, identity, _ = world
    now = [0.0]
    access = SlackAccess(WebClient(token=slack.token, base_url=slack.url), identity, cache_ttl_s=60,
                         clock=lambda: now[0])
    assert access.email_for("UCAROL") == "carol@example.com"
    assert access.email_for("UCAROL") == "carol@example.com"
    assert len(slack.calls_to("users.info")) == 1
    now[0] = 61
    slack.add_user("UCAROL", email="carol.new@example.com")
    assert access.email_for("UCAROL") == "carol.new@example.com"


def test_bad_token_falls_back_to_the_alias_only(world):
    slack, identity, _ = world
    access = SlackAccess(WebClient(token="xoxb-wrong", base_url=slack.url), identity)
    assert access.email_for("UALICE") == "alice@example.com"
    assert access.email_for("UCAROL") is None
