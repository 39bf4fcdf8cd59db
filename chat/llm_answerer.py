"""Grounded answers from an OpenAI-compatible LLM, verified before anyone sees them.

    question + retrieved chunks
      -> abstain (no LLM call) when the answerability model is confident nothing retrieved answers
      -> numbered, delimited documents that fit the context budget
      -> the model's answer, sentence by sentence through ``AnswerVerifier``
         (invalid citations removed, support scored, unsupported marked/dropped,
         unsourced links and mass mentions removed, prompt leaks dropped)
      -> not-found with the closest documents when no sentence is validly cited and supported
      -> the extractive answer, with a notice, when the LLM is unavailable

``stream`` yields text as it is verified (a sentence at a time: the model's
tokens are held until their sentence ends), and only sentences that are cited
and supported: an unsupported sentence waits for the final ``Answer`` (marked
there, or dropped), and a sentence with chat-template or control tokens
(``[INST]``, ``<<SYS>>``, ``<|im_end|>`` ...) is dropped. So everything shown
while streaming is part of the final answer, which is authoritative: a surface
replaces what it showed with ``answer.text`` and nothing shown disappears.
Reasoning blocks never arrive here: ``LLMClient`` strips them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence

from chat.citations import AnswerVerifier, RawSentence, split_sentences
from chat.context import ContextBuilder, ContextDocument, render_documents
from chat.extractive import ExtractiveAnswerer, closest_sources, not_found_text
from chat.history import Turn, recent_turns
from chat.llm_client import LLMClient
from chat.llm_output import control_tokens
from chat.prompts import PromptTemplate, load_prompt
from chat.support import OfflineSupportScorer
from core.errors import AnswerError
from core.protocols import SupportScorer
from core.settings import Settings
from core.types import Answer, ScoredChunk
from retrieval.tokenize import has_japanese

logger = logging.getLogger(__name__)

NOT_FOUND_TOKEN = "NOT_FOUND"
_HISTORY_TURNS = 4
_HISTORY_CHARS = 1000


def unavailable_notice(reason: str) -> str:
    return f"The LLM was unavailable ({reason}); this is an extractive answer quoted from the documents."


@dataclasses.dataclass
class _Plan:
    """What one LLM call needs: the numbered documents and the messages."""

    documents: list[ContextDocument]
    messages: list[dict[str, str]]
    system: str
    started: float
    timings: dict[str, float]
    llm_done: float = 0.0


class LLMAnswerer:
    """Answers with an LLM, cites, verifies and abstains; falls back to the extractive answerer."""

    name = "llm"

    def __init__(
        self,
        settings: Settings,
        *,
        client: LLMClient | None = None,
        extractive: ExtractiveAnswerer | None = None,
        scorer: SupportScorer | None = None,
        prompt: PromptTemplate | None = None,
    ) -> None:
        self.settings = settings
        self.client = client or LLMClient.from_settings(settings)
        self.extractive = extractive or ExtractiveAnswerer(
            max_sentences=settings.answer_sentences, abstain_threshold=settings.abstain_threshold
        )
        self.scorer = scorer or OfflineSupportScorer()
        self.prompt = prompt or load_prompt("answer", settings.llm_prompt_version, settings.llm_prompts_dir)
        self.context = ContextBuilder(
            model=settings.llm_model,
            context_tokens=settings.llm_context_tokens,
            answer_tokens=settings.llm_max_tokens,
        )

    # --- public ----------------------------------------------------------------------
    def answer(self, question: str, chunks: Sequence[ScoredChunk], history: Iterable[Turn] | None = None) -> Answer:
        """A verified answer (or not-found, or the extractive fallback); never raises for LLM failures."""
        plan = self._plan(question, chunks, history)
        if isinstance(plan, Answer):
            return plan
        t0 = time.perf_counter()
        try:
            completion = self.client.complete(plan.messages)
        except AnswerError as exc:
            return self._fallback(question, chunks, exc)
        plan.llm_done = time.perf_counter()
        plan.timings["llm"] = (plan.llm_done - t0) * 1000
        verifier = self._verifier(plan)
        sentences, _ = split_sentences(completion.text, final=True)
        for raw in sentences:
            self._feed(verifier, raw)
        return self._result(question, chunks, plan, verifier, completion.text, completion.model)

    def stream(
        self, question: str, chunks: Sequence[ScoredChunk], history: Iterable[Turn] | None = None
    ) -> Iterator[str | Answer]:
        """Yield verified text deltas as the model writes, then the final Answer."""
        plan = self._plan(question, chunks, history)
        if isinstance(plan, Answer):
            yield plan.text
            yield plan
            return
        t0 = time.perf_counter()
        verifier = self._verifier(plan)
        raw_text = ""
        fed = 0  # finished sentences already verified (the text is re-split as it grows: answers are short)
        stream = None
        try:
            stream = self.client.stream(plan.messages)
            for delta in stream:
                if "llm_first_token" not in plan.timings:
                    plan.timings["llm_first_token"] = (time.perf_counter() - t0) * 1000
                raw_text += delta
                if self._says_not_found(raw_text) or NOT_FOUND_TOKEN.startswith(raw_text.strip()):
                    continue  # the model may be saying NOT_FOUND: show nothing yet
                finished, _ = split_sentences(raw_text, final=False)
                for raw in finished[fed:]:
                    shown = self._feed_verified(verifier, raw)
                    if shown:
                        yield shown
                fed = len(finished)
        except AnswerError as exc:
            yield self._fallback(question, chunks, exc)
            return
        finally:
            if stream is not None:
                stream.close()  # also when the consumer went away: the server stops computing
        plan.llm_done = time.perf_counter()
        plan.timings["llm"] = (plan.llm_done - t0) * 1000
        if not self._says_not_found(raw_text):
            for raw in split_sentences(raw_text, final=True)[0][fed:]:
                shown = self._feed_verified(verifier, raw)
                if shown:
                    yield shown
        yield self._result(question, chunks, plan, verifier, raw_text, stream.model)

    # --- steps -----------------------------------------------------------------------
    def _plan(self, question: str, chunks: Sequence[ScoredChunk], history: Iterable[Turn] | None) -> _Plan | Answer:
        """Abstain early, or build the numbered context and the messages for the model."""
        started = time.perf_counter()
        # A high-recall gate: the model is called unless the answerability model is confident that nothing
        # retrieved answers (its gate threshold passes 98.5% of answerable validation questions); the model's
        # NOT_FOUND and the citation and support checks judge the rest.
        # A configured KURA_ABSTAIN_THRESHOLD is one probability threshold for both answerers, as it always was.
        verdict = self.extractive.answerability.assess(question, chunks)
        fixed = self.settings.abstain_threshold
        if (verdict.gate_margin < 0) if fixed is None else not verdict.answerable(fixed):
            logger.info("abstaining without an LLM call: answerability %.3f, %.2f below the gate", verdict.probability, -verdict.gate_margin)
            return self._not_found_answer(question, chunks, started)
        language = "Japanese" if has_japanese(question) else "the same language as the question"
        system = self.prompt.render_system(language=language)
        prior = self._history_messages(history)
        empty = self.prompt.messages(language=language, documents="", question=question)
        prompt_tokens = sum(self.context.count(m["content"]) + 4 for m in [*empty, *prior])
        documents = self.context.build(chunks, prompt_tokens=prompt_tokens)
        if not documents:
            logger.warning("no retrieved chunk fits the LLM context budget (KURA_LLM_CONTEXT_TOKENS)")
            return self._not_found_answer(question, chunks, started)
        messages = self.prompt.messages(language=language, documents=render_documents(documents), question=question)
        timings = {"context": (time.perf_counter() - started) * 1000}
        return _Plan(documents, [messages[0], *prior, messages[1]], system, started, timings)

    def _verifier(self, plan: _Plan) -> AnswerVerifier:
        return AnswerVerifier(
            plan.documents,
            self.scorer,
            threshold=self.settings.support_threshold,
            mode=self.settings.unsupported_sentences,
            system_prompt=plan.system,
        )

    @staticmethod
    def _feed(verifier: AnswerVerifier, raw: RawSentence) -> str | None:
        """Verify one sentence, leaving out a NOT_FOUND the model wrote next to other text; a sentence with
        template or control tokens is the model echoing its prompt format, never part of an answer."""
        text = raw.text.replace(NOT_FOUND_TOKEN, "").strip()
        if control_tokens(text):
            verifier.dropped.append("template or control tokens")
            return None
        return verifier.add(dataclasses.replace(raw, text=text)) if text else None

    def _feed_verified(self, verifier: AnswerVerifier, raw: RawSentence) -> str | None:
        """Streaming: verify one sentence and release it only when it is cited and supported (the rest waits
        for the final Answer), so nothing shown is later taken back."""
        shown = self._feed(verifier, raw)
        return shown if shown and verifier.sentences[-1].supported else None

    def _result(
        self,
        question: str,
        chunks: Sequence[ScoredChunk],
        plan: _Plan,
        verifier: AnswerVerifier,
        raw_text: str,
        model: str,
    ) -> Answer:
        # Streaming verifies while the model writes; this is the time spent after its last token.
        plan.timings["verify"] = (time.perf_counter() - plan.llm_done) * 1000
        checks = {
            "citations_removed": len(verifier.invalid_citations),
            "sentences_unverified": sum(1 for s in verifier.sentences if not s.supported),
            "sentences_dropped": len(verifier.dropped),
        }
        base = {"prompt_version": self.prompt.id, "model": model or self.settings.llm_model, "checks": checks}
        if verifier.invalid_citations:
            logger.info("removed citations to no source: %s", verifier.invalid_citations)
        cited = any(s.citations for s in verifier.sentences)
        if self._says_not_found(raw_text) or not cited or not verifier.any_supported:
            notice = ""
            if not self._says_not_found(raw_text):
                why = "cited no source" if not cited else "is not supported by the sources it cites"
                notice = f"The model's answer {why}, so it is not shown."
            answer = self._not_found_answer(question, chunks, plan.started)
            return dataclasses.replace(answer, **base, notice=notice, timings_ms={**answer.timings_ms, **plan.timings})
        notice = ""
        unsupported = sum(1 for s in verifier.sentences if not s.supported)
        if verifier.dropped:
            notice = f"{len(verifier.dropped)} sentence(s) of the model's answer were removed by Kura's checks."
        elif unsupported:
            notice = f"{unsupported} sentence(s) are marked (unverified): the cited sources do not clearly support them."
        plan.timings["answer"] = (time.perf_counter() - plan.started) * 1000
        return Answer(
            question=question,
            text=verifier.text,
            sentences=tuple(verifier.sentences),
            sources=verifier.sources,
            abstained=False,
            answerer=self.name,
            retrieved=tuple(chunks),
            notice=notice,
            timings_ms=dict(plan.timings),
            **base,
        )

    def _not_found_answer(self, question: str, chunks: Sequence[ScoredChunk], started: float) -> Answer:
        return Answer(
            question=question,
            text=not_found_text(question),
            sentences=(),
            sources=closest_sources(chunks),
            abstained=True,
            answerer=self.name,
            retrieved=tuple(chunks),
            prompt_version=self.prompt.id,
            model=self.settings.llm_model,
            timings_ms={"answer": (time.perf_counter() - started) * 1000},
        )

    def _fallback(self, question: str, chunks: Sequence[ScoredChunk], error: AnswerError) -> Answer:
        """The extractive answer, saying the LLM was unavailable and why (never a stack trace)."""
        logger.warning("falling back to the extractive answer: %s", error)
        answer = self.extractive.answer(question, chunks)
        return dataclasses.replace(answer, notice=unavailable_notice(str(error)))

    @staticmethod
    def _says_not_found(text: str) -> bool:
        return text.strip().upper().replace(" ", "_").startswith(NOT_FOUND_TOKEN)

    @staticmethod
    def _history_messages(history: Iterable[Turn] | None) -> list[dict[str, str]]:
        """The last turns as chat messages, clipped, with old citation markers removed."""
        messages = []
        for role, content in recent_turns(history, _HISTORY_TURNS):
            content = re.sub(r"\[\d+\]", "", content)[:_HISTORY_CHARS]
            messages.append({"role": role, "content": content})
        return messages
