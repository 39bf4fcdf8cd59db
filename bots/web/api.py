"""The JSON API behind the chat page: ask, stream, feedback, history, conversation, share, health.

Every route but health needs a signed-in user, and every read is scoped to
that user: their conversations, and answers from documents they may read.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from bots.web.app import WebContext, context, current_user
from bots.web.conversations import Conversation, ConversationNotFound
from bots.web.errors import ShareRefused
from bots.web.models import (
    AskRequest,
    AskResponse,
    ConversationOut,
    ConversationSummary,
    ErrorResponse,
    FeedbackOut,
    FeedbackRequest,
    HealthResponse,
    HistoryResponse,
    OkResponse,
    ShareResponse,
    TurnOut,
)
from bots.web.sharing import WITHHELD, may_view_shared, readable_turns
from bots.web.streaming import sse_event

router = APIRouter(
    prefix="/api",
    tags=["chat"],
    responses={401: {"model": ErrorResponse, "description": "Not signed in"}},
)

_NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such conversation of yours"}}


@router.get("/health", response_model=HealthResponse, tags=["ops"])
def health(web: WebContext = Depends(context)) -> HealthResponse:
    """Liveness and whether an index is there to answer from (no sign-in needed)."""
    store = web.kura.store
    if not store.exists():
        return HealthResponse(status="no_index")
    return HealthResponse(status="ok", index_chunks=store.count())


@router.post("/ask", response_model=AskResponse, responses=_NOT_FOUND)
def ask(body: AskRequest, user: str = Depends(current_user), web: WebContext = Depends(context)) -> dict:
    """Answer a question (in a conversation of yours, or a new one) and return the whole answer."""
    return web.chat.ask(user, body.question, body.conversation_id)


@router.post(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events: status, delta (answer text pieces), then answer or error. "
            "The answer event carries the same object as /api/ask returns.",
        },
        **_NOT_FOUND,
    },
)
def stream(body: AskRequest, user: str = Depends(current_user), web: WebContext = Depends(context)) -> StreamingResponse:
    """Answer a question as a stream of Server-Sent Events."""
    conversation_id, history = web.chat.start(user, body.conversation_id)
    events = web.chat.events(user, body.question, conversation_id, history)
    return StreamingResponse(
        (sse_event(name, data) for name, data in events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # proxies must not buffer the stream
    )


@router.post("/feedback", response_model=OkResponse, responses={403: {"model": ErrorResponse}, 404: {"model": ErrorResponse}})
def feedback(body: FeedbackRequest, user: str = Depends(current_user), web: WebContext = Depends(context)) -> OkResponse:
    """Rate an answer you were given: helpful or not, with an optional reason (sending again replaces it)."""
    web.feedback.record_feedback(body.answer_id, user=user, helpful=body.helpful, reason=body.reason)
    return OkResponse()


@router.get("/history", response_model=HistoryResponse)
def history(user: str = Depends(current_user), web: WebContext = Depends(context)) -> HistoryResponse:
    """Your conversations, most recent first."""
    summaries = [
        ConversationSummary(
            id=c.id, title=c.title, created_at=c.created_at, updated_at=c.updated_at,
            turn_count=c.turn_count, shared=bool(c.share_token),
        )
        for c in web.conversations.list_for(user)
    ]
    return HistoryResponse(user=user, conversations=summaries)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, responses=_NOT_FOUND)
def conversation(conversation_id: str, user: str = Depends(current_user), web: WebContext = Depends(context)) -> ConversationOut:
    """One of your conversations with all its turns and your feedback on them.

    Answers citing documents you can no longer read (you left the group, the page was restricted) are withheld.
    """
    conversation = web.conversations.get(conversation_id, user)
    readable = readable_turns(conversation, web.kura.principals_for(user), web.kura.store)
    return conversation_out(web, conversation, with_feedback=True, readable=readable)


@router.post("/conversations/{conversation_id}/share", response_model=ShareResponse, responses=_NOT_FOUND)
def share(conversation_id: str, user: str = Depends(current_user), web: WebContext = Depends(context)) -> ShareResponse:
    """A link to this conversation, readable only by people who may read every source it cites."""
    return ShareResponse(url=web.share_url(web.conversations.share(conversation_id, user)))


@router.delete("/conversations/{conversation_id}/share", response_model=OkResponse, responses=_NOT_FOUND)
def unshare(conversation_id: str, user: str = Depends(current_user), web: WebContext = Depends(context)) -> OkResponse:
    """Revoke the share link."""
    web.conversations.unshare(conversation_id, user)
    return OkResponse()


@router.get(
    "/shared/{token}",
    response_model=ConversationOut,
    responses={403: {"model": ErrorResponse, "description": "It cites a document you may not read"}, **_NOT_FOUND},
)
def shared(token: str, user: str = Depends(current_user), web: WebContext = Depends(context)) -> ConversationOut:
    """A conversation someone shared, if you may read every source it cites."""
    return conversation_out(web, load_shared(web, token, user), with_feedback=False)


def load_shared(web: WebContext, token: str, viewer: str) -> Conversation:
    """The shared conversation behind ``token``, after the permission check (also used by the share page)."""
    conversation = web.conversations.by_share_token(token)
    if conversation is None:
        raise ConversationNotFound("this share link does not exist or was revoked")
    decision = may_view_shared(conversation, viewer, web.kura.principals_for(viewer), web.kura.store)
    if not decision.allowed:
        raise ShareRefused(decision.reason)
    return conversation


def withheld_answer(question: str) -> dict:
    """What a turn shows in place of an answer its owner may no longer read."""
    return {"question": question, "answer": WITHHELD, "abstained": True, "answerer": "", "sentences": [], "sources": []}


def conversation_out(
    web: WebContext, c: Conversation, *, with_feedback: bool, readable: list[bool] | None = None
) -> ConversationOut:
    turns = []
    for i, t in enumerate(c.turns):
        if readable is not None and not readable[i]:
            t = replace(t, answer=withheld_answer(t.question))
        verdict = None
        if with_feedback and t.answer_id:
            record = web.feedback.get_answer(t.answer_id)
            if record is not None and record.feedback is not None:
                verdict = FeedbackOut(helpful=record.feedback.helpful, reason=record.feedback.reason)
        turns.append(
            TurnOut(id=t.id, question=t.question, answer=t.answer, answer_id=t.answer_id, created_at=t.created_at, feedback=verdict)
        )
    return ConversationOut(
        id=c.id,
        title=c.title,
        created_at=c.created_at,
        updated_at=c.updated_at,
        shared=bool(c.share_token),
        share_url=web.share_url(c.share_token) if with_feedback and c.share_token else None,
        turns=turns,
    )
