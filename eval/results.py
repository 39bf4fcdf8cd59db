"""Per-question outcomes of a run, their aggregation into run metrics, and results.json in and out.

``results.json`` holds, per run (strategy x retriever x answerer), the
aggregated ``metrics`` and compact ``per_question`` values (what ``kura eval
compare`` bootstraps over), plus a drill-down of failed questions (question,
gold, top retrieved, answer) for the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EvalError
from eval.groundedness import GROUNDEDNESS_METRICS, AnswerSupport, summarize
from eval.kinds import per_kind
from eval.metrics import RANKING_METRICS, mean, percentile

RESULTS_VERSION = 1
MAX_FAILURES_PER_RUN = 100
SPAN_METRICS = ("span_precision", "span_recall", "span_iou")


@dataclass
class QuestionResult:
    """What happened to one question in one run."""

    id: str
    answerable: bool
    has_evidence: bool
    rank: int | None  # 1-based rank of the first relevant item in the top 10
    latency_ms: float
    answer_ms: float
    abstained: bool
    em: float | None = None  # None when the question has no gold answer
    f1: float | None = None
    contains: float | None = None
    ranking: dict[str, float] = field(default_factory=dict)  # recall@k etc. from ranx
    span: dict[str, float] | None = None
    grounded: float | None = None  # supported fraction of this answer's sentences
    answer_text: str = ""
    retrieved: list[dict] = field(default_factory=list)  # top chunks: title, snippet, relevant
    support: AnswerSupport | None = None
    answered_by: str = ""  # the answerer that actually answered (an LLM run's fallback says "extractive")
    fallback: bool = False  # the configured answerer failed and another one answered
    notice: str = ""  # the answer's notice (why it fell back, what was removed)
    abstain_justified: float | None = None  # abstained: 1.0 when the retrieved text does not support a gold answer
    kind: str = ""  # the question's kind, when its dataset labels kinds
    language: str = ""  # "ja" or "en": the question's own language
    correct: bool | None = None  # the right outcome (eval/kinds.py); None when not judged
    leaked: tuple[str, ...] = ()  # listed documents the asker may not read

    @property
    def failed(self) -> bool:
        """Worth a look: a leak, a wrong outcome, evidence missed in the top 5, a wrong abstention, or no gold in it."""
        if self.leaked or self.correct is False:
            return True
        if self.has_evidence and (self.rank is None or self.rank > 5):
            return True
        if not self.answerable:
            return not self.abstained
        if self.abstained:
            return True
        return self.contains == 0.0

    def compact(self) -> dict:
        """The per-question values compare needs (short keys keep results.json small)."""
        out = {"id": self.id, "rank": self.rank, "abstained": self.abstained, "ms": round(self.latency_ms, 2)}
        if self.answered_by:
            out["by"] = self.answered_by
        if self.fallback:
            out["fallback"] = True
        for key in ("em", "f1", "contains", "grounded", "abstain_justified"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 4)
        out.update({m: v for m, v in self.ranking.items()})
        if self.correct is not None:
            out["correct"] = float(self.correct)
        if self.kind:
            out["kind"] = self.kind
        if self.leaked:
            out["leaked"] = list(self.leaked)
        return out

    def drill_down(self) -> dict:
        return {
            "id": self.id,
            "rank": self.rank,
            "abstained": self.abstained,
            "answered_by": self.answered_by,
            "fallback": self.fallback,
            "notice": self.notice[:300],
            "kind": self.kind,
            "leaked": list(self.leaked),
            "answer": self.answer_text[:400],
            "retrieved": self.retrieved,
            "support": self.support.to_dict() if self.support else None,
        }


def run_metrics(questions: Sequence[QuestionResult], assessments: Sequence[AnswerSupport]) -> dict:
    """Aggregate a run: the issue's metric names plus span overlap, latency tails and groundedness details."""
    ranked = [q for q in questions if q.has_evidence]
    with_gold = [q for q in questions if q.answerable and q.em is not None]
    unanswerable = [q for q in questions if not q.answerable]
    latencies = [q.latency_ms for q in questions]
    metrics: dict[str, float | int | None] = {m: mean([q.ranking.get(m) for q in ranked]) for m in RANKING_METRICS}
    for name in SPAN_METRICS:
        metrics[f"{name}@5"] = mean([q.span[name] for q in questions if q.span])
    metrics.update(
        {
            "answer_em": mean([q.em for q in with_gold]),
            "answer_f1": mean([q.f1 for q in with_gold]),
            "answer_contains": mean([q.contains for q in with_gold]),
            "correct_abstain": mean([float(q.abstained) for q in unanswerable]) if unanswerable else None,
            "abstain_rate": mean([float(q.abstained) for q in questions]),
            "false_abstain_rate": mean([float(q.abstained) for q in questions if q.answerable]),
            "fallback_rate": mean([float(q.fallback) for q in questions]),
            # Abstentions the retrieved text justified (no gold answer supported by it), over judged abstentions.
            "abstain_quality": mean([q.abstain_justified for q in questions if q.abstain_justified is not None]),
            # The right outcome (eval/kinds.py) over every question, and answers that listed an unreadable source.
            "outcome_accuracy": mean([float(q.correct) for q in questions if q.correct is not None]),
            "leaks": sum(1 for q in questions if q.leaked),
        }
    )
    grounded = summarize(assessments) if assessments else dict.fromkeys(GROUNDEDNESS_METRICS)
    metrics.update(grounded)
    metrics.update(
        {
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
            "answer_latency_p50_ms": percentile([q.answer_ms for q in questions], 50),
            "questions": len(questions),
            "questions_with_evidence": len(ranked),
        }
    )
    return metrics


def run_record(strategy: str, retriever: str, answerer: str, judge: str, questions: Sequence[QuestionResult], metrics: dict) -> dict:
    failures = [q for q in questions if q.failed]
    return {
        "strategy": strategy,
        "retriever": retriever,
        "answerer": answerer,
        "judge": judge,
        "metrics": metrics,
        "failures_total": len(failures),
        "failures": [q.drill_down() for q in failures[:MAX_FAILURES_PER_RUN]],
        "per_kind": per_kind(questions),
        "per_question": [q.compact() for q in questions],
    }


MOSTLY = 0.5  # a run where more than this share of answers fell back is marked as a fallback run


def answer_integrity(questions: Sequence[QuestionResult]) -> dict:
    """Who actually answered a run: counts per answerer, fallbacks and their notices, and whether most fell back."""
    answered_by: dict[str, int] = {}
    for q in questions:
        answered_by[q.answered_by or "unknown"] = answered_by.get(q.answered_by or "unknown", 0) + 1
    fallbacks = [q for q in questions if q.fallback]
    notices: dict[str, int] = {}
    for q in fallbacks:
        notices[q.notice] = notices.get(q.notice, 0) + 1
    return {
        "answered_by": answered_by,
        "fallbacks": len(fallbacks),
        "fallback_notices": [{"notice": n, "count": c} for n, c in sorted(notices.items(), key=lambda kv: -kv[1])[:3]],
        "mostly_fallback": bool(questions) and len(fallbacks) > MOSTLY * len(questions),
    }


def write_results(results: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)  # never leave a half-written results file behind
    return path


def read_results(path: str | Path) -> dict:
    """results.json from a run directory or the file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvalError(f"no results at {path}: run `kura eval run --out DIR` first") from exc
    except ValueError as exc:
        raise EvalError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(results, dict) or "runs" not in results:
        raise EvalError(f"{path} is not a kura eval results file (no 'runs')")
    return results

