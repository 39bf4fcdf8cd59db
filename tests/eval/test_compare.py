"""Paired bootstrap and run comparison on results built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import EvalError
from eval.compare import compare_results, comparison_markdown, paired_bootstrap


def _results(per_question: list[dict], strategy: str = "tokens") -> dict:
    return {"runs": [{"strategy": strategy, "retriever": "bm25", "answerer": "extractive", "per_question": per_question}]}


def test_a_clear_improvement_is_significant_and_no_change_is_not():
    a = np.zeros(200)
    b = np.concatenate([np.ones(120), np.zeros(80)])
    low, high, p = paired_bootstrap(a, b, samples=1000, seed=1)
    assert 0.5 < low < 0.6 < high < 0.7 and p < 0.01
    assert paired_bootstrap(a, a.copy()) == (0.0, 0.0, 1.0)


def test_noise_around_zero_is_not_significant():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 300).astype(float)
    b = a.copy()
    flip = rng.choice(300, 20, replace=False)
    b[flip[:10]] = 1 - b[flip[:10]]  # ten changes each way, roughly
    low, high, p = paired_bootstrap(a, b, samples=1000)
    assert low < 0 < high and p > 0.05


def test_runs_and_questions_are_matched_by_key_and_id():
    a = _results([{"id": f"q{i}", "recall@5": 0.0, "ms": 10.0} for i in range(50)])
    b = _results([{"id": f"q{i}", "recall@5": 1.0, "ms": 5.0} for i in range(40)] + [{"id": "extra", "recall@5": 1.0}])
    deltas = {d.metric: d for d in compare_results(a, b, samples=500)}
    assert deltas["recall@5"].n == 40 and deltas["recall@5"].delta == 1.0 and deltas["recall@5"].significant
    assert deltas["latency_ms"].delta == -5.0
    assert "answer_em" not in deltas  # not measured per question in either
    text = comparison_markdown(list(deltas.values()), "A", "B")
    assert "| tokens × bm25 × extractive | recall@5 | 40 | 0.000 | 1.000 | +1.000 * |" in text


def test_results_without_a_shared_run_are_refused():
    with pytest.raises(EvalError, match="share no run"):
        compare_results(_results([], "tokens"), _results([], "structure"))
