"""Follow-up questions -> standalone search queries, before retrieval.

"What about Japan?" retrieves nothing useful on its own. With a conversation
history the question is rewritten: by the LLM when one is configured (prompt
``rewrite/<version>``), otherwise — or when the LLM fails or answers something
unusable — by appending the key terms of the last user turns (BM25 tokens,
question words left out) that the question does not already contain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from chat.evidence import QUESTION_WORDS
from chat.history import Turn, recent_turns
from chat.llm_client import LLMClient
from chat.llm_output import check_rewrite
from chat.prompts import PromptTemplate, load_prompt
from core.errors import AnswerError
from retrieval.tokenize import tokenize

logger = logging.getLogger(__name__)

_MAX_QUERY_CHARS = 300
_PREFIXES = ("standalone search query:", "search query:", "query:")


@dataclass(frozen=True)
class Rewrite:
    """The query to search with and how it was made."""

    query: str
    method: Literal["unchanged", "llm", "keywords"]


class QueryRewriter:
    """Turns a follow-up question into a standalone query (LLM first, key terms as the fallback)."""

    def __init__(
        self,
        *,
        client: LLMClient | None = None,
        prompt: PromptTemplate | None = None,
        user_turns: int = 2,
        max_terms: int = 8,
    ) -> None:
        self.client = client
        self.prompt = prompt or (load_prompt("rewrite", "v1") if client is not None else None)
        self.user_turns = user_turns
        self.max_terms = max_terms

    def rewrite(self, question: str, history: Iterable[Turn] | None) -> Rewrite:
        """The standalone query for ``question`` given the conversation so far."""
        turns = recent_turns(history, 6)
        if not turns:
            return Rewrite(question, "unchanged")
        if self.client is not None:
            query = self._with_llm(question, turns)
            if query:
                return Rewrite(query, "llm")
        return Rewrite(self.keyword_query(question, turns), "keywords")

    def keyword_query(self, question: str, turns: list[tuple[str, str]]) -> str:
        """The question plus the key terms of the last user turns it does not already contain."""
        have = set(tokenize(question))
        extra: list[str] = []
        user_texts = [text for role, text in turns if role == "user"][-self.user_turns :]
        for text in reversed(user_texts):  # most recent turn first: its terms matter most
            for term in tokenize(text):
                if term in have or term in QUESTION_WORDS or len(term) < 2 and term.isascii():
                    continue
                have.add(term)
                extra.append(term)
        extra = extra[: self.max_terms]
        return f"{question} {' '.join(extra)}".strip() if extra else question

    def _with_llm(self, question: str, turns: list[tuple[str, str]]) -> str:
        """The LLM's rewrite, or "" when it fails or replies with something that is not a query."""
        transcript = "\n".join(f"{role}: {' '.join(text.split())[:500]}" for role, text in turns)
        messages = self.prompt.messages(history=transcript, question=question)
        try:
            completion = self.client.complete(messages, max_tokens=64, temperature=0.0)
        except AnswerError as exc:
            logger.info("query rewrite falls back to key terms: %s", exc)
            return ""
        lines = [line.strip() for line in completion.text.strip().splitlines() if line.strip()]
        query = lines[0] if lines else ""
        for prefix in _PREFIXES:
            if query.lower().startswith(prefix):
                query = query[len(prefix) :].strip()
        query = query.strip("\"'`“”「」 ")
        unusable = check_rewrite(query, [self.prompt.system, self.prompt.user])  # template tokens, prompt copies
        if not query or len(query) > _MAX_QUERY_CHARS or "NOT_FOUND" in query or unusable:
            return ""
        return query
