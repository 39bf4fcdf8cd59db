"""Request and response shapes of the JSON API (they make the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_QUESTION_CHARS = 2000


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, description="The question, any language.")
    conversation_id: str | None = Field(None, max_length=64, description="Continue this conversation; omit to start one.")


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    support: float | None = None
    supported: bool | None = None


class SourceOut(BaseModel):
    number: int
    title: str
    url: str
    document_id: str
    chunk_id: str
    snippet: str = Field(..., description="The cited passage.")
    source: str = Field("", description="confluence, gdocs, slack, ...")


class AnswerOut(BaseModel):
    question: str
    answer: str = Field(..., description="The answer text with citation markers [n].")
    abstained: bool = Field(..., description="True when the documents do not answer it; sources are then the closest documents.")
    answerer: str
    model: str = ""
    prompt_version: str = ""
    notice: str = ""
    answerability: float | None = Field(None, description="Probability that the retrieved documents answer it (chat/answerability.py).")
    sentences: list[SentenceOut]
    sources: list[SourceOut]
    timings_ms: dict[str, float] = {}


class AskResponse(BaseModel):
    conversation_id: str
    turn_id: int
    answer_id: str = Field(..., description="Pass to /api/feedback.")
    answer: AnswerOut


class FeedbackRequest(BaseModel):
    answer_id: str = Field(..., min_length=1, max_length=64)
    helpful: bool
    reason: str | None = Field(None, max_length=2000)


class FeedbackOut(BaseModel):
    helpful: bool
    reason: str | None = None


class OkResponse(BaseModel):
    ok: bool = True


class ConversationSummary(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str
    turn_count: int
    shared: bool


class HistoryResponse(BaseModel):
    user: str
    conversations: list[ConversationSummary]


class TurnOut(BaseModel):
    id: int
    question: str
    answer: AnswerOut
    answer_id: str | None
    created_at: str
    feedback: FeedbackOut | None = None


class ConversationOut(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str
    shared: bool
    share_url: str | None = None
    turns: list[TurnOut]


class ShareResponse(BaseModel):
    url: str
    note: str = "Readable only by people who may read every source this conversation cites."


class HealthResponse(BaseModel):
    status: str = Field(..., description="ok, or no_index before the first `kura ingest`.")
    index_chunks: int | None = None


class ErrorResponse(BaseModel):
    error: str
    status: int
