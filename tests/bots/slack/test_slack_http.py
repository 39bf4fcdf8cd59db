"""The Slack bot end to end: signed Events API requests in, real WebClient calls out to a loopback fake."""

from __future__ import annotations

import re
import time

from bots.slack import blocks
from ingest.connectors.sample import SAMPLE_DIR, SampleConnector
from tests.bots.slack.conftest import AIKO, AIKO_EMAIL, MARIKO, WEB_BASE_URL, YUKI, posted_json

EXPENSE_QUESTION = "Who has to approve an expense report over 50,000 yen?"
SALARY_QUESTION = "給与バンド表の改定コードは何ですか？"  # the answer (KIRIN-26) is in a group:finance page
TSUBAME_QUESTION = "What is the agreed price for Project Tsubame?"  # only in the private #proj-tsubame channel


def block_of(blocks_, kind):
    return [b for b in blocks_ if b["type"] == kind]


def buttons(blocks_):
    return {e["action_id"]: e for b in block_of(blocks_, "actions") for e in b["elements"]}


def answer_text(update) -> str:
    return update["blocks"][0]["text"]["text"]


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
    expense = SampleConnector.read(SAMPLE_DIR / "confluence-expense-reimbursement-policy.md")
    response = bot_server.mention("CPUB", AIKO, EXPENSE_QUESTION, "1700000000.000100")
    # Bolt acknowledges the event before the answer is computed (timings: bench/slack_latency.py).
    assert response.status_code == 200
    placeholder = slack.wait_for("chat.postMessage")[0]
    assert placeholder["thread_ts"] == "1700000000.000100"
    assert "Searching" in placeholder["text"]

    update = slack.wait_for("chat.update")[0]
    placeholder_ts = slack.messages["CPUB"][0]["ts"]
    assert update["channel"] == "CPUB" and update["ts"] == placeholder_ts  # the placeholder becomes the answer
    assert "department head" in answer_text(update).lower()
    assert f"<{expense.url}|[1]>" in answer_text(update)  # a citation linked to its source
    sources = update["blocks"][1]["elements"][0]["text"]
    assert f"*1.* <{expense.url}|{expense.title}> · :blue_book: Confluence" in sources

    controls = buttons(update["blocks"])
    answer_id = controls[blocks.HELPFUL_ACTION]["value"]
    assert controls[blocks.NOT_HELPFUL_ACTION]["value"] == answer_id
    assert controls[blocks.OPEN_WEB_ACTION]["url"].startswith(WEB_BASE_URL + "/?q=Who%20has%20to%20approve")

    record = bot_server.feedback.get_answer(answer_id)
    assert record.user == AIKO_EMAIL and record.surface == "slack"
    assert record.conversation_id == "CPUB:1700000000.000100"
    assert record.answer["sources"][0]["document_id"] == expense.id


def click(bot_server, user, channel, message, action_id, answer_id):
    return bot_server.interaction({
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "AKURA",
        "channel": {"id": channel}, "trigger_id": "1337.42.abcd",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
        "message": {"ts": message["ts"], "thread_ts": message.get("thread_ts"), "text": message["text"],
                    "blocks": message["blocks"]},
        "actions": [{"type": "button", "action_id": action_id, "block_id": blocks.FEEDBACK_BLOCK,
                     "value": answer_id, "action_ts": "1700000001.0"}],
    })


def test_helpful_click_stores_feedback_and_replaces_the_buttons(bot_server, slack):
    update = ask_and_wait(bot_server, slack, "CPUB", AIKO, EXPENSE_QUESTION, "1700000000.000200")
    answer_id = buttons(update["blocks"])[blocks.HELPFUL_ACTION]["value"]
    message = next(m for m in slack.messages["CPUB"] if m["ts"] == update["ts"])

    # Someone else in the channel cannot rate Aiko's answer.
    assert click(bot_server, YUKI, "CPUB", message, blocks.NOT_HELPFUL_ACTION, answer_id).status_code == 200
    ephemeral = slack.wait_for("chat.postEphemeral")[0]
    assert ephemeral["user"] == YUKI and "Only the person who asked" in ephemeral["text"]
    assert bot_server.feedback.get_answer(answer_id).feedback is None

    assert click(bot_server, AIKO, "CPUB", message, blocks.HELPFUL_ACTION, answer_id).status_code == 200
    rated = slack.wait_for("chat.update", 2)[-1]
    feedback = bot_server.feedback.get_answer(answer_id).feedback
    assert feedback.helpful is True and feedback.user == AIKO_EMAIL
    assert blocks.HELPFUL_ACTION not in buttons(rated["blocks"])
    assert blocks.OPEN_WEB_ACTION in buttons(rated["blocks"])
    assert "Marked helpful" in posted_json(slack)


def test_not_helpful_opens_a_reason_modal_and_the_reason_is_stored_and_exported(bot_server, slack, tmp_path):
    update = ask_and_wait(bot_server, slack, "DAIKO", AIKO, "Within how many days must I file an expense?",
                          "1700000000.000300")
    answer_id = buttons(update["blocks"])[blocks.NOT_HELPFUL_ACTION]["value"]
    message = next(m for m in slack.messages["DAIKO"] if m["ts"] == update["ts"])
    assert click(bot_server, AIKO, "DAIKO", message, blocks.NOT_HELPFUL_ACTION, answer_id).status_code == 200
    modal = slack.wait_for("views.open")[0]
    assert modal["trigger_id"] == "1337.42.abcd"
    assert modal["view"]["private_metadata"] == answer_id
    assert bot_server.feedback.get_answer(answer_id).feedback.helpful is False

    submitted = bot_server.interaction({
        "type": "view_submission", "user": {"id": AIKO}, "team": {"id": "T0001"}, "api_app_id": "AKURA",
        "view": {"id": "V0001", "type": "modal", "callback_id": blocks.REASON_CALLBACK,
                 "private_metadata": answer_id,
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
    bad = bot_server.mention("CPUB", AIKO, EXPENSE_QUESTION, "1700000000.000400", secret="wrong")
    assert bad.status_code == 401
    stale = bot_server.mention("CPUB", AIKO, EXPENSE_QUESTION, "1700000000.000401",
                               timestamp=int(time.time()) - 10 * 60)
    assert stale.status_code == 401
    time.sleep(0.3)
    assert slack.calls_to("chat.postMessage") == []
    assert bot_server.kura.asks == []


def test_a_channel_answer_only_uses_documents_every_member_can_read(bot_server, slack):
    salary = SampleConnector.read(SAMPLE_DIR / "confluence-salary-bands-fy2026.md")
    tsubame = SampleConnector.read(SAMPLE_DIR / "slack-proj-tsubame-due-diligence.md")
    # Yuki (engineering) is in CPUB: the finance page must not be used there, even when Aiko (finance) asks.
    public = ask_and_wait(bot_server, slack, "CPUB", AIKO, SALARY_QUESTION, "1700000000.000500")
    assert "KIRIN-26" not in str(public["blocks"])
    record = bot_server.feedback.get_answer(buttons(public["blocks"])[blocks.HELPFUL_ACTION]["value"])
    assert salary.id not in {r["document_id"] for r in record.retrieved}
    assert "group:finance" not in bot_server.kura.asks[-1]["principals"]

    # Among finance people (plus bots) and in Aiko's DM, it may be used.
    for channel, ts in (("CFIN", "1700000000.000501"), ("DAIKO", "1700000000.000502")):
        private = ask_and_wait(bot_server, slack, channel, AIKO, SALARY_QUESTION, ts)
        assert "KIRIN-26" in answer_text(private), channel

    # The private #proj-tsubame thread: answerable in that channel (every member is in it), not in CPUB.
    inside = ask_and_wait(bot_server, slack, "C0PRIV01", MARIKO, TSUBAME_QUESTION, "1700000000.000503")
    assert "14.2M" in answer_text(inside)
    outside = ask_and_wait(bot_server, slack, "CPUB", AIKO, TSUBAME_QUESTION, "1700000000.000504")
    assert "14.2M" not in str(outside["blocks"]) and tsubame.url not in str(outside["blocks"])

    # Guests or another organisation in the channel: no answer at all.
    asked = len(bot_server.kura.asks)
    for channel, ts in (("CGUEST", "1700000000.000505"), ("CSHARED", "1700000000.000506")):
        refused = ask_and_wait(bot_server, slack, channel, AIKO, SALARY_QUESTION, ts)
        assert "direct message" in refused["text"]
    assert len(bot_server.kura.asks) == asked


def test_document_text_cannot_ping_the_channel_or_break_formatting(bot_server, slack):
    update = ask_and_wait(bot_server, slack, "CPUB", AIKO, "How do I announce a major outage status update?",
                          "1700000000.000600")
    text = answer_text(update)
    assert "During a major outage, ping" in text  # the sentence is there, its broadcasts dropped
    assert "\u2217Important" in text  # an unpaired * cannot bold the rest of the answer
    everything = posted_json(slack)
    assert not re.search(r"<!(channel|here|everyone)", everything)
    assert not re.search(r"@(channel|here|everyone)", everything)


def test_a_follow_up_in_the_thread_uses_the_thread_as_history(bot_server, slack):
    root = "1700000000.000700"
    slack.add_message("CPUB", user=AIKO, text=f"<@UKURA> {EXPENSE_QUESTION}", ts=root)
    first = ask_and_wait(bot_server, slack, "CPUB", AIKO, EXPENSE_QUESTION, root)
    follow_up_ts = "1700002000.000100"  # after the bot's answer
    slack.add_message("CPUB", user=AIKO, text="<@UKURA> And within how many days?", ts=follow_up_ts, thread_ts=root)
    ask_and_wait(bot_server, slack, "CPUB", AIKO, "And within how many days?", follow_up_ts, thread_ts=root)

    replies = slack.calls_to("conversations.replies")
    assert replies and replies[-1]["ts"] == root and replies[-1]["channel"] == "CPUB"
    assert slack.calls_to("chat.postMessage")[-1]["thread_ts"] == root  # answered in the same thread
    history = bot_server.kura.asks[-1]["history"]
    assert history[0] == ("user", EXPENSE_QUESTION)
    assert history[1][0] == "assistant" and "department head" in history[1][1].lower()
    assert len(history) == 2  # the follow-up itself and the "Searching…" placeholder are not history
    assert first["ts"] != slack.calls_to("chat.update")[-1]["ts"]


def test_direct_messages_are_answered_and_the_bots_own_messages_ignored(bot_server, slack):
    dm = {"type": "message", "channel_type": "im", "channel": "DAIKO", "user": AIKO,
          "text": "Which laptop model do data scientists get?", "ts": "1700000000.000800"}
    assert bot_server.event(dm).status_code == 200
    update = slack.wait_for("chat.update")[0]
    assert "MacBook Pro 16" in answer_text(update)
    assert ":page_facing_up: Google Docs" in str(update["blocks"])

    own = {"type": "message", "channel_type": "im", "channel": "DAIKO", "user": "UKURA", "bot_id": "BKURA",
           "text": "Data scientists get a MacBook Pro", "ts": "1700000000.000801"}
    edit = {"type": "message", "subtype": "message_changed", "channel_type": "channel", "channel": "CHELP",
            "ts": "1700000000.000802"}
    assert bot_server.event(own).status_code == 200
    assert bot_server.event(edit).status_code == 200
    time.sleep(0.5)
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_channel_settings_mention_only_allowed_sources_and_disabled(bot_server, slack):
    # CHELP answers top-level messages without a mention; CPUB (the default) does not.
    plain = {"type": "message", "channel_type": "channel", "user": AIKO, "text": EXPENSE_QUESTION}
    bot_server.event({**plain, "channel": "CPUB", "ts": "1700000000.000900"})
    bot_server.event({**plain, "channel": "CHELP", "ts": "1700000000.000901"})
    slack.wait_for("chat.update")
    assert [c["channel"] for c in slack.calls_to("chat.postMessage")] == ["CHELP"]

    # CGDOCS only draws on Google Docs.
    gdocs_only = ask_and_wait(bot_server, slack, "CGDOCS", AIKO, EXPENSE_QUESTION, "1700000000.000902")
    assert bot_server.kura.asks[-1]["sources"] == ("gdocs",)
    assert "atlassian" not in str(gdocs_only["blocks"]) and "Confluence" not in str(gdocs_only["blocks"])

    # COFF: Kura stays silent and tells only the asker.
    bot_server.mention("COFF", AIKO, EXPENSE_QUESTION, "1700000000.000903")
    ephemeral = slack.wait_for("chat.postEphemeral")[0]
    assert ephemeral["channel"] == "COFF" and "turned off" in ephemeral["text"]
    assert len(bot_server.kura.asks) == 2


def test_rate_limited_member_lookup_is_retried(bot_server, slack):
    slack.rate_limit_next("conversations.members", retry_after_s=1)
    update = ask_and_wait(bot_server, slack, "CPUB", AIKO, EXPENSE_QUESTION, "1700000000.001000")
    assert "department head" in answer_text(update).lower()
    assert len(slack.calls_to("conversations.members")) == 1  # the 429 was retried, then answered
    # The members were read (Yuki's and the new hire's shared domain), not the public-only fallback.
    assert "domain:hoshi-robotics.example" in bot_server.kura.asks[-1]["principals"]


LONG_JA_QUESTION = "経費精算の申請で、海外出張中に現地通貨で支払った宿泊費と交通費を、帰国後にまとめて申請する場合の為替レートの扱いと、" * 6


def test_a_long_japanese_question_still_gets_its_answer_and_a_valid_web_chat_button(bot_server, slack):
    update = ask_and_wait(bot_server, slack, "CPUB", AIKO, LONG_JA_QUESTION, "1700000000.001100")
    assert not slack.rejected, f"Slack would have refused: {slack.rejected[:1]}"
    assert "went wrong" not in update["text"]
    url = buttons(update["blocks"])[blocks.OPEN_WEB_ACTION]["url"]
    assert len(url) <= 3000 and url.startswith(WEB_BASE_URL + "/?q=")


def test_a_redelivered_event_is_answered_once_even_after_a_restart(indexed_kura, start_bot, slack):
    from tests.bots.slack.conftest import RecordingKura

    first = start_bot(RecordingKura(indexed_kura))
    event = {"type": "app_mention", "user": AIKO, "text": f"<@UKURA> {EXPENSE_QUESTION}", "ts": "1700000000.001200",
             "channel": "CPUB", "event_ts": "1700000000.001200"}
    assert first.event(event).status_code == 200
    slack.wait_for("chat.update")
    # Slack did not see the ack in time and retries; the bot also restarted meanwhile (same state directory).
    assert first.event(event, event_id=first.last_event_id, retry_num=1).status_code == 200
    first.stop()
    second = start_bot(RecordingKura(indexed_kura))
    assert second.event(event, event_id=first.last_event_id, retry_num=2).status_code == 200
    new = {**event, "ts": "1700000000.001201"}
    assert second.event(new, event_id="EvNEW").status_code == 200  # a new event is answered
    slack.wait_for("chat.update", 2)
    time.sleep(0.5)
    assert [c["thread_ts"] for c in slack.calls_to("chat.postMessage")] == ["1700000000.001200", "1700000000.001201"]


def test_a_follow_up_in_a_long_thread_passes_the_latest_turns(bot_server, slack):
    root = "1700000100.000000"
    slack.add_message("CPUB", user=AIKO, text="<@UKURA> first question", ts=root)
    for i in range(1, 260):  # more than one page of replies (the bot asks for 200 per page)
        slack.add_message("CPUB", user=AIKO if i % 2 else "UKURA", text=f"turn {i}", ts=f"1700000100.{i:06d}",
                          thread_ts=root)
    follow_up_ts = "1700000200.000000"
    slack.add_message("CPUB", user=AIKO, text="<@UKURA> and now?", ts=follow_up_ts, thread_ts=root)
    ask_and_wait(bot_server, slack, "CPUB", AIKO, "and now?", follow_up_ts, thread_ts=root)

    history = bot_server.kura.asks[-1]["history"]
    assert len(history) == 10
    assert history[-1][1] == "turn 259" and history[0][1] == "turn 250"
    assert len(slack.calls_to("conversations.replies")) >= 2
