"""One question in the web chat, from the asker's permissions to the stored turn, as a stream of events.

``POST /api/stream`` sends ``ChatService.events``; ``POST /api/ask`` runs the same
steps and returns the payload of the final ``answer`` event. Events, in order:

- ``status``  ``{"stage": "searching"}`` as soon as the question is accepted
- ``delta``   ``{"text": "..."}`` zero or more pieces of the answer text
- ``answer``  ``{"conversation_id", "turn_id", "answer_id", "answer": Answer.to_dict()}`` once, last
- ``error``   ``{"message": "..."}`` instead of ``answer`` when answering failed
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from core.types import Answer

from bots.web.conversations import ConversationNotFound, ConversationStore, new_conversation_id
from bots.web.errors import log_failure, user_message
from bots.web.sharing import WITHHELD, readable_turns
from bots.web.streaming import answer_deltas

logger = logging.getLogger(__name__)

SURFACE = "web"


class ChatService:
    """Answers a user's question within their conversation and records the answer for feedback."""

    def __init__(self, kura, conversations: ConversationStore, feedback, *, history_turns: int = 5) -> None:
        self.kura = kura
        self.conversations = conversations
        self.feedback = feedback
        self.history_turns = history_turns

    def start(self, user: str, conversation_id: str | None) -> tuple[str, list[tuple[str, str]]]:
        """The conversation to answer in (a new one when None) and its recent turns; checks ownership.

        Called before any event is sent, so a foreign conversation id is an ordinary 404, not a broken stream.
        """
        if conversation_id is None:
            return new_conversation_id(), []
        if not self.conversations.exists(conversation_id, user):
            raise ConversationNotFound("conversation not found")
        return conversation_id, self._readable_history(user, conversation_id)

    def _readable_history(self, user: str, conversation_id: str) -> list[tuple[str, str]]:
        """The recent turns as history, leaving out answers the user may no longer read (they would reach the LLM)."""
        conversation = self.conversations.get(conversation_id, user)
        readable = readable_turns(conversation, self.kura.principals_for(user), self.kura.store)
        messages: list[tuple[str, str]] = []
        for turn, ok in list(zip(conversation.turns, readable))[-self.history_turns :]:
            messages += [("user", turn.question), ("assistant", str(turn.answer.get("answer", "")) if ok else WITHHELD)]
        return messages

    def events(
        self, user: str, question: str, conversation_id: str, history: list[tuple[str, str]]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The events of one answer (see the module docstring); a failure ends the stream as an ``error`` event."""
        yield "status", {"stage": "searching"}
        try:
            yield from self._answer(user, question, conversation_id, history)
        except Exception as exc:  # the stream's error boundary: headers are sent, so the error travels as an event
            yield "error", {"message": user_message(exc, log_failure(exc))}

    def ask(self, user: str, question: str, conversation_id: str | None) -> dict[str, Any]:
        """The whole answer at once (the payload of the final ``answer`` event); failures raise."""
        conversation_id, history = self.start(user, conversation_id)
        for event, data in self._answer(user, question, conversation_id, history):
            if event == "answer":
                return data
        raise RuntimeError("the answerer ended without an answer")

    def _answer(
        self, user: str, question: str, conversation_id: str, history: list[tuple[str, str]]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        principals = self.kura.principals_for(user)
        answer: Answer | None = None
        for item in answer_deltas(self.kura, question, principals=principals, history=history, surface=SURFACE,
                                  conversation_id=conversation_id):
            if isinstance(item, Answer):
                answer = item
            elif item:
                yield "delta", {"text": item}
        if answer is None:
            raise RuntimeError("the answerer ended without an answer")
        answer_id = self.feedback.record_answer(answer, user=user, surface=SURFACE, conversation_id=conversation_id)
        payload = answer.to_dict()
        turn_id = self.conversations.add_turn(user, conversation_id, question, payload, answer_id)
        yield "answer", {"conversation_id": conversation_id, "turn_id": turn_id, "answer_id": answer_id, "answer": payload}
