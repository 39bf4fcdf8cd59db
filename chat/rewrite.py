"""Follow-up questions -> standalone search queries, before retrieval.

"What about Japan?" retrieves nothing useful on its own. With a conversation
history the question is rewritten: by the LLM when one is configured (prompt
``rewrite/<version>``), otherwise — or when the LLM fails or answers something
unusable — by appending the key terms of the last user turns (BM25 tokens,
question words left out) that the question does not already contain.

Cross-language questions (an English question whose answer is only in a
Japanese page, or the reverse) get the question in each other language of the
index (``CrossLanguageRewriter``): translated by the LLM when one is configured
(prompt ``translate/<version>``), otherwise — or when the LLM fails — bridged
term by term through SudachiDict's bilingual synonym groups
(``retrieval.term_bridge``). The retriever searches with every version and fuses
the rankings (``retrieval.multiquery``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from chat.evidence import QUESTION_WORDS
from chat.history import Turn, recent_turns
from chat.llm_output import check_rewrite
from chat.prompts import PromptTemplate, load_prompt
from core.errors import AnswerError
from retrieval.term_bridge import LazyTermBridge, TermBridge
from retrieval.tokenize import has_japanese, tokenize

if TYPE_CHECKING:  # the openai SDK takes ~2 s to import: only a configured LLM (bots/app.py) pays for it
    from chat.llm_client import LLMClient

logger = logging.getLogger(__name__)

_MAX_QUERY_CHARS = 300
_PREFIXES = ("standalone search query:", "search query:", "query:")


@dataclass(frozen=True)
class Rewrite:
    """The query to search with and how it was made."""

    query: str
    method: Literal["unchanged", "llm", "keywords", "translated", "bridged"]


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


# The languages Kura's tokenizer reads (Sudachi for Japanese, words for the rest), by the name the prompt uses.
LANGUAGE_NAMES = {"en": "English", "ja": "Japanese"}
_TRANSLATION_CACHE = 512


def language_of(text: str) -> str:
    """A question's language: Japanese as soon as it holds a Japanese character (English ones carry ids, names)."""
    return "ja" if has_japanese(text) else "en"


def document_language(text: str) -> str:
    """A document's language: Japanese when at least a fifth of its letters are (an English page may quote a term)."""
    letters = [c for c in text if c.isalpha()]
    japanese = sum(1 for c in letters if has_japanese(c))
    return "ja" if letters and japanese / len(letters) >= 0.2 else "en"


class CrossLanguageRewriter:
    """The question in each other language of the index: translated by the LLM, else bridged by terms."""

    def __init__(
        self,
        *,
        languages: Iterable[str] = ("en", "ja"),
        client: LLMClient | None = None,
        prompt: PromptTemplate | None = None,
        bridge: TermBridge | LazyTermBridge | None = None,
    ) -> None:
        self.languages = tuple(languages)
        unknown = [lang for lang in self.languages if lang not in LANGUAGE_NAMES]
        if unknown:
            raise ValueError(f"unknown index language(s) {unknown}: use {', '.join(LANGUAGE_NAMES)}")
        self.client = client
        self.prompt = prompt or (load_prompt("translate", "v1") if client is not None else None)
        self.bridge = bridge
        self._cache: dict[tuple[str, str], str] = {}  # the same question asked again costs no LLM call

    def rewrites(self, question: str, languages: Iterable[str] | None = None) -> list[Rewrite]:
        """One query per other language of the index (``languages`` overrides the constructor's); none when the
        index has only the question's language."""
        source = language_of(question)
        out: list[Rewrite] = []
        for language in self.languages if languages is None else tuple(languages):
            if language == source:
                continue
            if language not in LANGUAGE_NAMES:
                continue
            translated = self._translate(question, language) if self.client is not None else ""
            if translated:
                out.append(Rewrite(translated, "translated"))
                continue
            # The term table bridges English <-> Japanese only, which are all the languages there are today.
            bridged = self.bridge.query(question) if self.bridge is not None else None
            if bridged:
                out.append(Rewrite(bridged, "bridged"))
        return out

    def queries(self, question: str, languages: Iterable[str] | None = None) -> list[str]:
        """The other-language queries as text (what ``retrieval.multiquery`` expects)."""
        return [r.query for r in self.rewrites(question, languages)]

    def _translate(self, question: str, language: str) -> str:
        """The LLM's translation, or "" when it fails, answers in the wrong language or with something else."""
        key = (question, language)
        if key in self._cache:
            return self._cache[key]
        name = LANGUAGE_NAMES[language]
        try:
            messages = self.prompt.messages(language=name, question=question)
            completion = self.client.complete(messages, max_tokens=128, temperature=0.0)
        except AnswerError as exc:
            logger.info("translation to %s falls back to the term table: %s", name, exc)
            return ""
        lines = [line.strip() for line in completion.text.strip().splitlines() if line.strip()]
        query = lines[0].strip("\"'`“”「」 ") if lines else ""
        if f"{name} translation:".lower() in query.lower():
            query = query.split(":", 1)[1].strip()
        # A reply still in the question's language (or empty, or an essay) is no translation.
        if not query or len(query) > _MAX_QUERY_CHARS or "NOT_FOUND" in query or language_of(query) != language:
            return ""
        if len(self._cache) >= _TRANSLATION_CACHE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = query
        return query
