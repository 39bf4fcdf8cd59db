"""The Slack bot end to end: signed Events API requests in, real WebClient calls out to a loopback fake."""

from __future__ import annotations

import re
import time

from bots.slack import blocks
from tests.bots.slack.conftest import WEB_BASE_URL, posted_json


def block_of(blocks_, kind):
    return [b for b in blocks_ if b["type"] == kind]


def buttons(blocks_):
    return {e["action_id"]: e for b in block_of(blocks_, "actions") for e in b["elements"]}


def ask_and_wait(bot_server, slack, channel, user, text, ts, thread_ts=None):
    before = len(slack.calls_to("chat.update"))
    if channel.startswith("D"):  # in a DM every message is a question; it arrives as a message.im event
        response = bot_server.event({"type": "message", "channel_type": "im", "channel": channel, "user": user,
                                     "text": text, "ts": ts})
    else:
        response = bot_server.mention(channel, user, text, ts, thread_ts)
    assert response.status_code == 200
    return slack.wait_for("chat.update", before + 1)[-1]


def test_mention_gets_a_threaded_placeholder_then_the_answer_with_sources_and_buttons(bot_server, slack):
    started = time.monotonic()
    response = bot_server.mention("CPUB", "UALICE", "Who approves expense reports over 50,000 yen?", "1700000000.000100")
    # Bolt acknowledges the event before the answer is computed.
    assert response.status_code == 200
    placeholder = slack.wait_for("chat.postMessage")[0]
    assert time.monotonic() - started < 3  # the "Searching…" reply is what meets Slack's 3-second limit
    assert placeholder["thread_ts"] == "1700000000.000100"
    assert "Searching" in placeholder["text"]

    update = slack.wait_for("chat.update")[0]
    placeholder_ts = slack.messages["CPUB"][0]["ts"]
    assert update["channel"] == "CPUB" and update["ts"] == placeholder_ts  # the placeholder becomes the answer
    answer_block, sources_block = update["blocks"][0], update["blocks"][1]
    assert "department head" in answer_block["text"]["text"]
    assert "<https://wiki.example.com/expenses|[1]>" in answer_block["text"]["text"]  # a linked citation
    sources = sources_block["elements"][0]["text"]
    assert "*1.* <https://wiki.example.com/expenses|Expense policy> · :blue_book: Confluence" in sources

    controls = buttons(update["blocks"])
    answer_id = controls[blocks.HELPFUL_ACTION]["value"]
    assert controls[blocks.NOT_HELPFUL_ACTION]["value"] == answer_id
    assert controls[blocks.OPEN_WEB_ACTION]["url"].startswith(WEB_BASE_URL + "/?q=Who%20approves")

    record = bot_server.feedback.get_answer(answer_id)
    assert record.user == "alice@example.com" and record.surface == "slack"
    assert record.conversation_id == "CPUB:1700000000.000100"
    assert "department head" in record.answer["answer"]


def test_helpful_click_stores_feedback_and_replaces_the_buttons(bot_server, slack):
    update = ask_and_wait(bot_server, slack, "CPUB", "UALICE", "Who approves expense reports?", "1700000000.000200")
    answer_id = buttons(update["blocks"])[blocks.HELPFUL_ACTION]["value"]
    message = next(m for m in slack.messages["CPUB"] if m["ts"] == update["ts"])

    def click(user, action_id):
        return bot_server.interaction({
            "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "AKURA",
            "channel": {"id": "CPUB"}, "trigger_id": "1337.42.abcd",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": "CPUB"},
            "message": {"ts": message["ts"], "thread_ts": message["thread_ts"], "text": message["text"],
                        "blocks": message["blocks"]},
            "actions": [{"type": "button", "action_id": action_id, "block_id": blocks.FEEDBACK_BLOCK,
                         "value": answer_id, "action_ts": "1700000001.0"}],
        })

    # Someone else in the channel cannot rate Alice's answer.
    assert click("UBOB", blocks.NOT_HELPFUL_ACTION).status_code == 200
    ephemeral = slack.wait_for("chat.postEphemeral")[0]
    assert ephemeral["user"] == "UBOB" and "Only the person who asked" in ephemeral["text"]
    assert bot_server.feedback.get_answer(answer_id).feedback is None

    assert click("UALICE", blocks.HELPFUL_ACTION).status_code == 200
    rated = slack.wait_for("chat.update", 2)[-1]
    feedback = bot_server.feedback.get_answer(answer_id).feedback
    assert feedback.helpful is True and feedback.user == "alice@example.com"
    assert blocks.HELPFUL_ACTION not in buttons(rated["blocks"])
    assert blocks.OPEN_WEB_ACTION in buttons(rated["blocks"])
    assert "Marked helpful" in posted_json(slack)


def test_not_helpful_opens_a_reason_modal_and_the_reason_is_stored_and_exported(bot_server, slack, tmp_path):
    update = ask_and_wait(bot_server, slack, "DALICE", "UALICE", "When must expense reports be submitted?",
                          "1700000000.000300")
    answer_id = buttons(update["blocks"])[blocks.NOT_HELPFUL_ACTION]["value"]
    response = bot_server.interaction({
        "type": "block_actions", "user": {"id": "UALICE"}, "team": {"id": "T0001"}, "api_app_id": "AKURA",
        "channel": {"id": "DALICE"}, "trigger_id": "1337.43.abcd",
        "container": {"type": "message", "message_ts": update["ts"], "channel_id": "DALICE"},
        "message": {"ts": update["ts"], "text": update["text"], "blocks": update["blocks"]},
        "actions": [{"type": "button", "action_id": blocks.NOT_HELPFUL_ACTION, "block_id": blocks.FEEDBACK_BLOCK,
                     "value": answer_id, "action_ts": "1700000001.0"}],
    })
    assert response.status_code == 200
    modal = slack.wait_for("views.open")[0]
    assert modal["trigger_id"] == "1337.43.abcd"
    assert modal["view"]["private_metadata"] == answer_id
    assert bot_server.feedback.get_answer(answer_id).feedback.helpful is False

    submitted = bot_server.interaction({
        "type": "view_submission", "user": {"id": "UALICE"}, "team": {"id": "T0001"}, "api_app_id": "AKURA",
        "view": {"id": "V0001", "type": "modal", "callback_id": blocks.REASON_CALLBACK, "private_metadata": answer_id,
                 "state": {"values": {blocks.REASON_BLOCK: {blocks.REASON_INPUT: {
                     "type": "plain_text_input", "value": "It should say 30 days from the receipt"}}}}},
    })
    assert submitted.status_code == 200
    feedback = bot_server.feedback.get_answer(answer_id).feedback
    assert (feedback.helpful, feedback.reason) == (False, "It should say 30 days from the receipt")

    out = tmp_path / "feedback.jsonl"
    assert bot_server.feedback.export(out) == 1
    assert '"reason": "It should say 30 days from the receipt"' in out.read_text(encoding="utf-8")


def test_bad_signature_and_stale_timestamp_are_rejected(bot_server, slack):
    bad = bot_server.mention("CPUB", "UALICE", "Who approves expenses?", "1700000000.000400", secret="wrong")
    assert bad.status_code == 401
    stale = bot_server.mention("CPUB", "UALICE", "Who approves expenses?", "1700000000.000401",
                               timestamp=int(time.time()) - 10 * 60)
    assert stale.status_code == 401
    time.sleep(0.3)
    assert slack.calls_to("chat.postMessage") == []
    assert bot_server.kura.asks == []


def test_a_channel_answer_only_uses_documents_every_member_can_read(bot_server, slack):
    question = "What is the acquisition target of Project Falcon?"
    # Bob, who is not in finance, is in CPUB: the confidential page must not be used there, even for Alice.
    public = ask_and_wait(bot_server, slack, "CPUB", "UALICE", question, "1700000000.000500")
    assert "Blue Heron" not in str(public["blocks"])
    record = bot_server.feedback.get_answer(buttons(public["blocks"])[blocks.HELPFUL_ACTION]["value"])
    assert "confluence:falcon" not in {r["document_id"] for r in record.retrieved}
    assert "group:finance" not in bot_server.kura.asks[-1]["principals"]

    # In a private channel of finance people (plus bots) it may be used; so in Alice's DM.
    for channel, ts in (("CFIN", "1700000000.000501"), ("DALICE", "1700000000.000502")):
        private = ask_and_wait(bot_server, slack, channel, "UALICE", question, ts)
        assert "Blue Heron Labs" in private["blocks"][0]["text"]["text"], channel
        assert "group:finance" in bot_server.kura.asks[-1]["principals"]

    # Guests or another organisation in the channel: no answer at all.
    for channel, ts in (("CGUEST", "1700000000.000503"), ("CSHARED", "1700000000.000504")):
        refused = ask_and_wait(bot_server, slack, channel, "UALICE", question, ts)
        assert "direct message" in refused["text"]
    assert len(bot_server.kura.asks) == 3


def test_document_text_cannot_ping_the_channel_or_break_formatting(bot_server, slack):
    update = ask_and_wait(bot_server, slack, "CPUB", "UALICE", "How do I announce a major outage status update?",
                          "1700000000.000600")
    text = update["blocks"][0]["text"]["text"]
    assert "ping @\u200bchannel" in text  # the sentence is there, defused
    assert "&lt;!" in text and "<!" not in text  # the <!here> is shown as text (the splitter cuts it at "!")
    assert "\u2217Important" in text  # an unpaired * cannot bold the rest of the answer
    everything = posted_json(slack)
    assert not re.search(r"<!(channel|here|everyone)", everything)
    assert not re.search(r"@(channel|here|everyone)", everything)


def test_a_follow_up_in_the_thread_uses_the_thread_as_history(bot_server, slack):
    root = "1700000000.000700"
    slack.add_message("CPUB", user="UALICE", text="<@UKURA> Who approves expense reports over 50,000 yen?", ts=root)
    first = ask_and_wait(bot_server, slack, "CPUB", "UALICE", "Who approves expense reports over 50,000 yen?", root)
    follow_up_ts = "1700002000.000100"  # after the bot's answer
    slack.add_message("CPUB", user="UALICE", text="<@UKURA> And within how many days?", ts=follow_up_ts,
                      thread_ts=root)
    ask_and_wait(bot_server, slack, "CPUB", "UALICE", "And within how many days?", follow_up_ts, thread_ts=root)

    replies = slack.calls_to("conversations.replies")
    assert replies and replies[-1]["ts"] == root and replies[-1]["channel"] == "CPUB"
    assert slack.calls_to("chat.postMessage")[-1]["thread_ts"] == root  # answered in the same thread
    history = bot_server.kura.asks[-1]["history"]
    assert history[0] == ("user", "Who approves expense reports over 50,000 yen?")
    assert history[1][0] == "assistant" and "department head" in history[1][1]
    assert len(history) == 2  # the follow-up itself and the "Searching…" placeholder are not history
    assert first["ts"] != slack.calls_to("chat.update")[-1]["ts"]


def test_direct_messages_are_answered_and_the_bots_own_messages_ignored(bot_server, slack):
    dm = {"type": "message", "channel_type": "im", "channel": "DALICE", "user": "UALICE",
          "text": "Are green car seats reimbursed?", "ts": "1700000000.000800"}
    assert bot_server.event(dm).status_code == 200
    update = slack.wait_for("chat.update")[0]
    assert "Green car" in update["blocks"][0]["text"]["text"]

    own = {"type": "message", "channel_type": "im", "channel": "DALICE", "user": "UKURA", "bot_id": "BKURA",
           "text": "Green car seats are not reimbursed", "ts": "1700000000.000801"}
    edit = {"type": "message", "subtype": "message_changed", "channel_type": "channel", "channel": "CHELP",
            "ts": "1700000000.000802"}
    assert bot_server.event(own).status_code == 200
    assert bot_server.event(edit).status_code == 200
    time.sleep(0.5)
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_channel_settings_mention_only_allowed_sources_and_disabled(bot_server, slack):
    # CHELP answers top-level messages without a mention; CPUB (the default) does not.
    plain = {"type": "message", "channel_type": "channel", "user": "UALICE",
             "text": "Who approves expense reports over 50,000 yen?"}
    bot_server.event({**plain, "channel": "CPUB", "ts": "1700000000.000900"})
    bot_server.event({**plain, "channel": "CHELP", "ts": "1700000000.000901"})
    slack.wait_for("chat.update")
    assert [c["channel"] for c in slack.calls_to("chat.postMessage")] == ["CHELP"]

    # CTRAVEL only draws on Google Docs.
    travel = ask_and_wait(bot_server, slack, "CTRAVEL", "UALICE", "Who approves expense reports?", "1700000000.000902")
    assert bot_server.kura.asks[-1]["sources"] == ("gdocs",)
    assert "wiki.example.com" not in str(travel["blocks"])

    # COFF: Kura stays silent and tells only the asker.
    bot_server.mention("COFF", "UALICE", "Who approves expense reports?", "1700000000.000903")
    ephemeral = slack.wait_for("chat.postEphemeral")[0]
    assert ephemeral["channel"] == "COFF" and "turned off" in ephemeral["text"]
    assert len(bot_server.kura.asks) == 2


def test_rate_limited_member_lookup_is_retried(bot_server, slack):
    slack.rate_limit_next("conversations.members", retry_after_s=1)
    update = ask_and_wait(bot_server, slack, "CPUB", "UALICE", "Who approves expense reports?", "1700000000.001000")
    assert "department head" in update["blocks"][0]["text"]["text"]
    assert len(slack.calls_to("conversations.members")) == 1  # the 429 was retried and then answered
    assert bot_server.kura.asks[-1]["principals"]  # members were read, not the public-only fallback
