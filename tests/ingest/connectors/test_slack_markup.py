"""Slack mrkdwn -> readable text."""

from __future__ import annotations

from ingest.connectors.slack_markup import to_text

USERS = {"U1": "Aiko Tanaka"}
CHANNELS = {"C1": "general"}


def test_mentions_channels_links_and_entities():
    text = ("<@U1> see <#C1> and <#C9|ops>, <https://x.example/a?b=1&amp;c=2|the doc>, <https://y.example>, "
            "<mailto:a@example.com|a@example.com>, <!here>, <!subteam^S1|@infra> &lt;tag&gt; `a &amp;&amp; b`")
    assert to_text(text, USERS, CHANNELS) == (
        "@Aiko Tanaka see #general and #ops, the doc (https://x.example/a?b=1&c=2), https://y.example, "
        "a@example.com, @here, @infra <tag> `a && b`")


def test_unknown_user_keeps_its_id_and_code_blocks_stay():
    assert to_text("<@U404> ```make test```", USERS, CHANNELS) == "@U404 ```make test```"
