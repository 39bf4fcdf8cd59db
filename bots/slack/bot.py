"""The Slack bot's behaviour: which messages it answers, and how a question becomes a threaded answer.

Each handler is thin: parse the Slack payload, ask KuraApp with the right
principals and history, format with ``blocks``, post. Bolt acknowledges
events at once (HTTP mode answers 200 before the listener runs), and the
first thing a question gets is a "Searching…" reply in its thread, well
inside Slack's 3-second limit; that reply is then updated with the answer
(with the text so far while an LLM answer streams).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bots.feedback import FeedbackError, FeedbackNotAllowedError, FeedbackStore, UnknownAnswerError
from bots.slack import blocks
from bots.slack.channel_config import ChannelConfig
from bots.slack.event_log import SlackEventLog
from bots.slack.mrkdwn import plain_question
from bots.slack.permissions import SlackAccess
from core.errors import AnswerError, KuraError
from core.types import Answer

logger = logging.getLogger(__name__)

SURFACE = "slack"
HELP_TEXT = "Ask me a question about the company's documents, e.g. _@Kura how do I submit an expense report?_"
OFF_TEXT = "Kura is turned off in this channel."
REFUSED_TEXT = (
    "I don't answer in channels shared with other organisations or with guests, because some readers may not be "
    "allowed to see our documents. Ask me in a direct message instead."
)
MAX_HISTORY_PAGES = 50  # 10,000 thread messages: beyond that a thread is not a conversation any more
FAILED_TEXT = "Sorry, something went wrong while answering. Please try again in a minute."


class SlackBot:
    """Answers questions asked in Slack and records the verdicts on the answers."""

    def __init__(
        self,
        kura,
        feedback: FeedbackStore,
        access: SlackAccess,
        channels: ChannelConfig,
        *,
        web_base_url: str,
        history_messages: int = 10,
        stream_update_s: float = 1.0,
        events: SlackEventLog | None = None,
    ) -> None:
        self.kura = kura
        self.feedback = feedback
        self.access = access
        self.channels = channels
        self.web_base_url = web_base_url
        self.history_messages = history_messages
        self.stream_update_s = stream_update_s
        self.events = events or SlackEventLog(None)
        # KuraApp builds its retriever lazily and the local index is not meant for concurrent searches.
        self._ask_lock = threading.Lock()

    # --- events ------------------------------------------------------------------------
    def on_mention(self, event: dict, client: WebClient, context: dict, body: dict | None = None) -> None:
        if not self._first_delivery(body):
            return
        if event.get("channel", "").startswith("D"):
            return  # a DM is answered by on_message already
        self.answer(event, client, context.get("bot_user_id"))

    def on_message(self, event: dict, client: WebClient, context: dict, body: dict | None = None) -> None:
        if not self._first_delivery(body):
            return
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bot posts: not questions
        if event.get("channel_type") == "im":
            self.answer(event, client, context.get("bot_user_id"))
            return
        bot_user_id = context.get("bot_user_id")
        mentioned = bool(bot_user_id) and f"<@{bot_user_id}" in event.get("text", "")
        settings = self.channels.for_channel(event.get("channel", ""))
        # Without the mention-only rule, top-level messages are questions; mentions come as app_mention events.
        if not settings.answer_on_mention_only and not mentioned and not event.get("thread_ts"):
            self.answer(event, client, bot_user_id)

    def _first_delivery(self, body: dict | None) -> bool:
        """False for a redelivery (Slack retries with the same event_id): it was, or is being, answered."""
        event_id = (body or {}).get("event_id")
        if self.events.first_delivery(event_id):
            return True
        logger.info("ignoring a redelivered Slack event %s", event_id)
        return False

    def answer(self, event: dict, client: WebClient, bot_user_id: str | None) -> None:
        """Post a placeholder in the thread, answer with what this audience may read, replace the placeholder."""
        channel, user = event["channel"], event["user"]
        thread_ts = event.get("thread_ts") or event["ts"]
        settings = self.channels.for_channel(channel)
        if not settings.enabled:
            client.chat_postEphemeral(channel=channel, user=user, text=OFF_TEXT, thread_ts=event.get("thread_ts"))
            return
        question = plain_question(event.get("text", ""), bot_user_id)
        if not question:
            self._post(client, channel, thread_ts, HELP_TEXT, None)
            return
        text, placeholder_blocks = blocks.searching_message()
        ts = self._post(client, channel, thread_ts, text, placeholder_blocks)
        try:
            principals = self.access.conversation_principals(channel, user)
            if not principals:
                self._update(client, channel, ts, *blocks.error_message(REFUSED_TEXT))
                return
            history = self.history(client, channel, thread_ts, event["ts"], bot_user_id) if event.get("thread_ts") else None
            with self._ask_lock:
                answer = self._ask_streaming(client, channel, ts, question, principals=principals,
                                             history=history, sources=settings.allowed_sources)
            answer_id = self.feedback.record_answer(
                answer, user=self.feedback_user(user), surface=SURFACE, conversation_id=f"{channel}:{thread_ts}"
            )
            self._update(client, channel, ts,
                         *blocks.answer_message(answer, answer_id=answer_id, web_base_url=self.web_base_url))
        except KuraError as exc:
            logger.warning("answering in %s failed: %s", channel, exc.__class__.__name__)
            self._update(client, channel, ts, *blocks.error_message(str(exc)))
        except Exception:
            self._update(client, channel, ts, *blocks.error_message(FAILED_TEXT))
            raise  # to the @app.error boundary, which logs it

    def _ask_streaming(self, client: WebClient, channel: str, ts: str, question: str, **kwargs) -> Answer:
        """Ask; while an LLM answer streams, show its verified text so far in the placeholder (throttled)."""
        text, last_update = "", time.monotonic()
        for item in self.kura.ask_stream(question, **kwargs):
            if isinstance(item, Answer):
                return item
            text += item
            # Slack allows about one chat.update per second per message; the final Answer always follows.
            if time.monotonic() - last_update >= self.stream_update_s:
                self._update(client, channel, ts, *blocks.partial_message(text))
                last_update = time.monotonic()
        raise AnswerError("the answer stream ended without an answer")

    def history(
        self, client: WebClient, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None
    ) -> list[tuple[str, str]]:
        """The thread before this message as (role, text) pairs, oldest first, at most ``history_messages``."""
        messages: list[dict] = []
        cursor = None
        try:
            # A long thread spans several pages (oldest first): read them all, so the latest turns are the ones kept.
            for _ in range(MAX_HISTORY_PAGES):
                page = client.conversations_replies(channel=channel, ts=thread_ts, limit=200,
                                                    **({"cursor": cursor} if cursor else {}))
                messages += page.get("messages", [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            logger.warning("conversations.replies failed in %s: %s", channel, exc.response.get("error"))
            if not messages:
                return []
        placeholder = blocks.searching_message()[0]
        turns: list[tuple[str, str]] = []
        for message in messages:
            if float(message.get("ts", "0")) >= float(before_ts):
                continue
            from_bot = bool(message.get("bot_id")) or (bot_user_id is not None and message.get("user") == bot_user_id)
            text = plain_question(message.get("text", ""), bot_user_id)
            if text and text != placeholder:
                turns.append(("assistant" if from_bot else "user", text))
        return turns[-self.history_messages :]

    def feedback_user(self, user_id: str) -> str:
        """Who an answer is recorded for: the email when known (shared with the web chat), else the Slack id."""
        return self.access.email_for(user_id) or f"slack:{user_id}"

    # --- buttons and the reason modal ------------------------------------------------------
    def on_feedback(self, ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        helpful = action["action_id"] == blocks.HELPFUL_ACTION
        answer_id = action["value"]
        try:
            self.feedback.record_feedback(answer_id, user=self.feedback_user(user), helpful=helpful)
        except FeedbackNotAllowedError:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=message.get("thread_ts"),
                                      text="Only the person who asked can rate this answer.")
            return
        except UnknownAnswerError:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=message.get("thread_ts"),
                                      text="This answer is no longer on record, so it cannot be rated.")
            return
        if not helpful and body.get("trigger_id"):
            # The trigger id expires after 3 seconds: open the modal before anything else.
            client.views_open(trigger_id=body["trigger_id"], view=blocks.reason_modal(answer_id))
        if message.get("ts"):
            client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", ""),
                               blocks=blocks.rated_blocks(message.get("blocks", []), helpful=helpful))

    def on_reason(self, ack, body: dict, view: dict) -> None:
        # Stored before the ack, so the modal only closes once the reason is safe (and can show an error if not).
        reason = (view["state"]["values"].get(blocks.REASON_BLOCK, {}).get(blocks.REASON_INPUT, {}) or {}).get("value")
        if reason and reason.strip():
            try:
                self.feedback.record_feedback(view["private_metadata"], user=self.feedback_user(body["user"]["id"]),
                                              helpful=False, reason=reason)
            except (FeedbackError, ValueError) as exc:
                ack(response_action="errors", errors={blocks.REASON_BLOCK: str(exc)})
                return
        ack()

    def on_open_web(self, ack) -> None:
        ack()  # a link button: Slack opens the URL, the app only has to acknowledge the click

    @staticmethod
    def on_error(error: Exception, body: dict) -> None:
        """The boundary: log the failure with its traceback, never the message text."""
        kind = body.get("type") or (body.get("event") or {}).get("type")
        logger.error("Slack request of type %s failed: %s", kind, error.__class__.__name__, exc_info=error)

    # --- posting -------------------------------------------------------------------------
    @staticmethod
    def _post(client: WebClient, channel: str, thread_ts: str, text: str, blocks_: Sequence[dict] | None) -> str:
        response = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks_,
                                           unfurl_links=False, unfurl_media=False)
        return response["ts"]

    @staticmethod
    def _update(client: WebClient, channel: str, ts: str, text: str, blocks_: list[dict[str, Any]]) -> None:
        client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks_)
