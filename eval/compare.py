"""Compare two eval runs: per matching run and metric, the delta B - A with a paired bootstrap.

Runs are matched by (strategy, retriever, answerer) and questions by id, so
only questions both runs answered count. The bootstrap resamples questions with
replacement; the 95% interval is the 2.5/97.5 percentiles of the resampled
mean deltas and the two-sided p-value is twice the share of resamples on the
far side of zero. A delta whose interval excludes zero is marked significant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import EvalError

# per-question key in results.json -> metric name shown
COMPARED = {
    "recall@1": "recall@1",
    "recall@5": "recall@5",
    "recall@10": "recall@10",
    "mrr@10": "mrr@10",
    "ndcg@10": "ndcg@10",
    "em": "answer_em",
    "f1": "answer_f1",
    "contains": "answer_contains",
    "grounded": "groundedness",
    "correct": "outcome_accuracy",
    "ms": "latency_ms",
}


@dataclass(frozen=True)
class Delta:
    """One metric of one run pair: means, their difference and how sure we are of it."""

    run: str
    metric: str
    n: int
    a: float
    b: float
    delta: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, samples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(low, high, p) of mean(b - a): 95% percentile interval and two-sided p from resampling the pairs."""
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("paired bootstrap needs two equally long, non-empty samples")
    diffs = b - a
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(samples, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    if np.all(diffs == 0):
        return 0.0, 0.0, 1.0
    below, above = np.mean(means <= 0), np.mean(means >= 0)
    return float(low), float(high), float(min(1.0, 2 * min(below, above)))


def _key(run: dict) -> str:
    return f"{run['strategy']} × {run['retriever']} × {run['answerer']}"


def compare_results(a: dict, b: dict, *, samples: int = 2000, seed: int = 0) -> list[Delta]:
    """Deltas for every run present in both results and every metric both have per question."""
    runs_a = {_key(r): r for r in a["runs"]}
    runs_b = {_key(r): r for r in b["runs"]}
    shared = [k for k in runs_a if k in runs_b]
    if not shared:
        raise EvalError(
            "the two results share no run (strategy × retriever × answerer): "
            f"A has {sorted(runs_a)}, B has {sorted(runs_b)}"
        )
    deltas = []
    for key in shared:
        qa = {q["id"]: q for q in runs_a[key]["per_question"]}
        qb = {q["id"]: q for q in runs_b[key]["per_question"]}
        ids = [i for i in qa if i in qb]
        for field, metric in COMPARED.items():
            pairs = [(qa[i][field], qb[i][field]) for i in ids if field in qa[i] and field in qb[i]]
            if not pairs:
                continue
            va, vb = (np.asarray(x, dtype=float) for x in zip(*pairs))
            low, high, p = paired_bootstrap(va, vb, samples=samples, seed=seed)
            deltas.append(Delta(key, metric, len(pairs), float(va.mean()), float(vb.mean()), float((vb - va).mean()), low, high, p))
    return deltas


def comparison_markdown(deltas: list[Delta], a: Path | str, b: Path | str) -> str:
    """The comparison as a Markdown table; significant deltas (95% interval excludes 0) carry a *."""
    lines = [
        f"# Kura eval comparison\n\nA = `{a}`, B = `{b}`. Δ = B − A with a paired-bootstrap 95% interval; "
        "* marks deltas whose interval excludes 0. Latency in ms (lower is better).\n",
        "| run | metric | n | A | B | Δ | 95% interval | p |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for d in deltas:
        mark = " *" if d.significant else ""
        lines.append(
            f"| {d.run} | {d.metric} | {d.n} | {d.a:.3f} | {d.b:.3f} | {d.delta:+.3f}{mark} | "
            f"[{d.low:+.3f}, {d.high:+.3f}] | {d.p_value:.3f} |"
        )
    return "\n".join(lines) + "\n"
