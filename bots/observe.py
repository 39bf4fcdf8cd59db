"""Watches every answer KuraApp produces: counts it in the metrics and logs one JSON trace line for it.

KuraApp.ask / ask_stream hand their work to ``AnswerObserver``, so the CLI,
the web chat and the Slack bot are observed the same way. The trace line
(logger ``kura.trace``, one JSON object, no other text) says how an answer was
made::

    {"event": "answer", "trace_id": "...", "at": "2026-01-05T10:00:00+00:00", "surface": "web",
     "conversation_id": "...", "outcome": "answered", "answerer_requested": "llm", "answerer": "llm",
     "model": "gpt-4o-mini", "prompt_version": "answer/v1", "retrieved_chunk_ids": [...],
     "cited_chunk_ids": [...], "timings_ms": {"retrieval": 12.1, "answer": 840.2, "llm_first_token": 310.5,
     "llm_total": 790.0, "total": 852.3}, "checks": {"citations_removed": 0, ...}}

It never carries document text, titles or the question, unless
``KURA_TRACE_QUESTIONS=true`` adds ``"question"``. Outcomes: ``answered``,
``abstained`` (Kura said the documents do not answer), ``fallback`` (the LLM
was asked for and unavailable: the extractive answer was given), ``error``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from core.types import Answer

TRACE_LOGGER = "kura.trace"
UNCOUNTED_SURFACE = "cli"
trace_logger = logging.getLogger(TRACE_LOGGER)


def configure_trace_logging(stream=None) -> None:
    """Entry points (kura serve, kura slack) call this: trace lines go to stderr as bare JSON, one a line."""
    if any(getattr(h, "_kura_trace", False) for h in trace_logger.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._kura_trace = True  # type: ignore[attr-defined]
    trace_logger.addHandler(handler)
    trace_logger.setLevel(logging.INFO)
    trace_logger.propagate = False  # the root handler would prefix the JSON with a level and a name


def outcome_of(answer: Answer, requested: str) -> str:
    if requested == "llm" and answer.answerer != "llm":
        return "fallback"
    return "abstained" if answer.abstained else "answered"


def stage_timings(answer: Answer | None, total_ms: float) -> dict[str, float]:
    """Per-stage milliseconds: retrieval (follow-up rewrite included), answer (the rest), and the LLM's where used."""
    t = answer.timings_ms if answer is not None else {}
    retrieval = t.get("retrieve", 0.0) + t.get("rewrite", 0.0)
    stages = {"retrieval": retrieval, "answer": max(0.0, total_ms - retrieval)}
    if "llm_first_token" in t:
        stages["llm_first_token"] = t["llm_first_token"]
    if "llm" in t:
        stages["llm_total"] = t["llm"]
    stages["total"] = total_ms
    return {k: round(v, 3) for k, v in stages.items()}


class AnswerObserver:
    """Counts and traces answers; ``traced`` wraps one ask, ``traced_stream`` one streamed ask."""

    def __init__(self, *, trace: bool = True, trace_questions: bool = False, metrics=None) -> None:
        self.trace = trace
        self.trace_questions = trace_questions
        self._metrics = metrics  # bots.metrics.KuraMetrics; the process's own by default

    @property
    def metrics(self):
        # Imported on first use: prometheus-client costs the CLI's cold start for nothing until an answer is counted.
        if self._metrics is None:
            from bots.metrics import METRICS

            self._metrics = METRICS
        return self._metrics

    @classmethod
    def from_settings(cls, settings) -> "AnswerObserver":
        return cls(trace=settings.trace_answers, trace_questions=settings.trace_questions)

    def traced(self, ask: Callable[[], Answer], *, question: str, surface: str, conversation_id: str | None,
               requested: str) -> Answer:
        """Run ``ask`` and observe its answer (or its failure, which is re-raised)."""
        started = time.perf_counter()
        self._count_question(surface)
        try:
            answer = ask()
        except BaseException as exc:
            self._finish(None, exc, question, surface, conversation_id, requested, started)
            raise
        self._finish(answer, None, question, surface, conversation_id, requested, started)
        return answer

    def traced_stream(self, items: Iterator[str | Answer], *, question: str, surface: str,
                      conversation_id: str | None, requested: str) -> Iterator[str | Answer]:
        """Pass a stream through, observing its final Answer; a failure or an abandoned stream is an error.

        The Answer is observed as it passes, before it is handed on: a caller may stop reading once it has it.
        """
        started = time.perf_counter()
        self._count_question(surface)
        observed = False
        try:
            for item in items:
                if isinstance(item, Answer) and not observed:
                    observed = True
                    self._finish(item, None, question, surface, conversation_id, requested, started)
                yield item
        except BaseException as exc:  # GeneratorExit too: the client went away before the answer
            if not observed:
                observed = True
                self._finish(None, exc, question, surface, conversation_id, requested, started)
            raise
        if not observed:
            self._finish(None, RuntimeError("the stream ended without an answer"), question, surface,
                         conversation_id, requested, started)

    @staticmethod
    def _counted(surface: str) -> bool:
        # A `kura ask` process ends with its answer: nobody scrapes its metrics, so it does not load them.
        return surface != UNCOUNTED_SURFACE

    def _count_question(self, surface: str) -> None:
        if self._counted(surface):
            self.metrics.questions.labels(surface=surface).inc()

    def _finish(self, answer: Answer | None, error: BaseException | None, question: str, surface: str,
                conversation_id: str | None, requested: str, started: float) -> None:
        total_ms = (time.perf_counter() - started) * 1000
        outcome = "error" if answer is None else outcome_of(answer, requested)
        stages = stage_timings(answer, total_ms)
        if self._counted(surface):
            self._count_answer(answer, surface, outcome, stages)
        if self.trace:
            trace_logger.info(json.dumps(self._trace(answer, error, question, surface, conversation_id, requested,
                                                     outcome, stages), ensure_ascii=False))

    def _count_answer(self, answer: Answer | None, surface: str, outcome: str, stages: dict[str, float]) -> None:
        m = self.metrics
        m.answers.labels(surface=surface, outcome=outcome).inc()
        if answer is not None:
            for stage in ("retrieval", "answer", "llm_first_token", "llm_total"):
                if stage in stages:
                    m.stage_seconds.labels(stage=stage).observe(stages[stage] / 1000)
            for check, count in answer.checks.items():
                if count:
                    m.verification.labels(check=check).inc(count)

    def _trace(self, answer, error, question, surface, conversation_id, requested, outcome, stages) -> dict:
        line = {
            "event": "answer",
            "trace_id": uuid.uuid4().hex,
            "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "surface": surface,
            "conversation_id": conversation_id,
            "outcome": outcome,
            "answerer_requested": requested,
            "answerer": answer.answerer if answer else None,
            "model": answer.model if answer else None,
            "prompt_version": answer.prompt_version if answer else None,
            "retrieved_chunk_ids": [h.chunk.id for h in answer.retrieved] if answer else [],
            "cited_chunk_ids": [s.chunk_id for s in answer.cited_sources] if answer else [],
            "timings_ms": stages,
            "checks": dict(answer.checks) if answer else {},
        }
        if error is not None:
            # The class only: an exception message may quote the question or a document.
            line["error"] = "cancelled" if isinstance(error, GeneratorExit) else error.__class__.__name__
        if self.trace_questions:
            line["question"] = question
        return line
