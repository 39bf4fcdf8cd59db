"""Scorer evaluation on NLI pairs: split, threshold, AUROC and balanced accuracy, and the JNLI figures."""

from __future__ import annotations

import json

import pytest

from chat.support import OfflineSupportScorer
from core.errors import EvalError
from eval.scorer_eval import (
    NLIPair,
    auroc,
    balanced_accuracy,
    best_threshold,
    evaluate_scorer,
    fit_support_model,
    load_nli,
    split_pairs,
)


class LengthScorer:
    """Deterministic scorer: short hypotheses are 'supported' (enough to check the bookkeeping)."""

    name = "length"

    def score(self, claim, sources):
        return 1.0 / len(claim)


def _pairs():
    pairs = []
    for i in range(30):
        pairs.append(NLIPair("p", "e" * (1 + i % 3), "entailment"))
        pairs.append(NLIPair("p", "n" * (4 + i % 3), "neutral"))
        pairs.append(NLIPair("p", "c" * (2 + i % 5), "contradiction"))
    return pairs


def test_split_is_stratified_disjoint_and_reproducible():
    pairs = _pairs()
    fit, held = split_pairs(pairs, 0.5, seed=4)
    assert set(fit).isdisjoint(held) and len(fit) + len(held) == len(pairs)
    assert sum(pairs[i].label == "entailment" for i in fit) == 15
    assert split_pairs(pairs, 0.5, seed=4) == (fit, held)
    with pytest.raises(EvalError):
        split_pairs(pairs, 1.0, 0)


def test_metrics_on_known_scores():
    labels = [True, True, False, False]
    assert auroc(labels, [0.9, 0.4, 0.5, 0.1]) == 0.75
    assert balanced_accuracy(labels, [0.9, 0.4, 0.5, 0.1], 0.45) == 0.5  # TPR 1/2, TNR 1/2
    assert best_threshold(labels, [0.9, 0.8, 0.5, 0.1]) == pytest.approx(0.65)


def test_evaluate_scorer_reports_held_out_figures():
    results = evaluate_scorer(LengthScorer(), _pairs(), configured_threshold=0.5, seed=1)
    held = results["held_out"]
    assert results["auroc"] == held["auroc"] and results["balanced_accuracy"] == held["balanced_accuracy"]
    assert held["pairs"] == 45 and results["labels"] == {"entailment": 30, "neutral": 30, "contradiction": 30}
    assert 0.5 < held["auroc"] <= 1.0
    assert held["mean_score_by_label"]["entailment"] > held["mean_score_by_label"]["neutral"]


def test_load_nli_refuses_bad_rows(tmp_path):
    path = tmp_path / "nli.jsonl"
    path.write_text(json.dumps({"sentence1": "a", "sentence2": "b", "label": "maybe"}) + "\n", encoding="utf-8")
    with pytest.raises(EvalError, match="unknown label"):
        load_nli(path)
    path.write_text(json.dumps({"sentence1": "a", "label": "neutral"}) + "\n", encoding="utf-8")
    with pytest.raises(EvalError, match="sentence1, sentence2 and label"):
        load_nli(path)
    with pytest.raises(EvalError, match="not found"):
        load_nli(tmp_path / "missing.jsonl")


def test_offline_scorer_on_jnli_beats_chance_and_refits_monotone_weights(jnli_path):
    pairs = load_nli(jnli_path, limit=800, seed=0)
    results = evaluate_scorer(OfflineSupportScorer(), pairs, configured_threshold=0.5)
    assert results["held_out"]["auroc"] > 0.6
    model = fit_support_model(OfflineSupportScorer(), pairs)
    assert model.missing < 0 and model.negation <= 0 and model.dense == 0.0
