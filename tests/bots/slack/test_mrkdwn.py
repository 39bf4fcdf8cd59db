"""Slack mrkdwn: document text cannot ping, link or break formatting; questions come back as plain words."""

from bots.slack.mrkdwn import link, plain_question, safe_text, safe_url, truncate


def test_safe_text_escapes_and_drops_broadcasts():
    out = safe_text("Ping @channel, @Here and <!everyone> <@U123> <https://evil.example|click> & more")
    assert "channel" not in out and "Here" not in out and "everyone" not in out
    assert "<" not in out and ">" not in out
    assert "&lt;@U123&gt;" in out and "&amp; more" in out


def test_safe_text_balances_markers_and_flattens_lines():
    assert safe_text("*Important: read this") == "\u2217Important: read this"
    assert safe_text("a *bold* word") == "a *bold* word"  # paired markers keep the document's formatting
    assert safe_text("**strong** text") == "*strong* text"
    assert safe_text("```\ncode without end") == "\u02cb\u02cb\u02cb code without end"
    assert safe_text("line one\n> quoted\n- item") == "line one &gt; quoted - item"
    assert safe_text("see [the guide](https://x.example/g)") == "see the guide (https://x.example/g)"


def test_links_only_for_plain_http_urls():
    assert link("https://wiki.example.com/a?x=1&y=2", "Expense | policy") == (
        "<https://wiki.example.com/a?x=1&amp;y=2|Expense \u00a6 policy>"
    )
    assert link("javascript:alert(1)", "Title") == "Title"
    assert link("https://x.example/a>b", "T") == "T"
    assert safe_url("") is None


def test_truncate_never_splits_an_escape():
    text = "word " * 10 + "&amp;&amp;"
    cut = truncate(text, 53)
    assert len(cut) <= 53 and cut.endswith("…") and not cut.rstrip("…").endswith("&am")
    assert truncate("short", 10) == "short"


def test_plain_question_strips_the_bot_mention_and_slack_markup():
    text = "<@UKURA> what does <https://a.example/x|this page> say to <@U42> in <#C1|general> &amp; <!here>?"
    assert plain_question(text, "UKURA") == "what does this page say to @U42 in #general & ?"
    assert plain_question("<@UKURA>", "UKURA") == ""
