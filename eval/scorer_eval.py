"""How good is a support scorer? Measured on NLI pairs: does it call entailed hypotheses supported, and the rest not?

Each pair's premise is the source and its hypothesis the claim; "supported"
should match ``label == entailment`` (neutral and contradiction are both
unsupported). The pairs are split, stratified by label and reproducibly, into a
fit part and a held-out part. On the fit part a decision threshold is chosen
(the one with the best balanced accuracy); every reported figure is on the
held-out part: AUROC (threshold-free), balanced accuracy at the fitted
threshold and at the configured one (``KURA_SUPPORT_THRESHOLD`` or the judge's).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import EvalError

LABELS = ("entailment", "neutral", "contradiction")


@dataclass(frozen=True)
class NLIPair:
    premise: str
    hypothesis: str
    label: str

    @property
    def supported(self) -> bool:
        return self.label == "entailment"


def load_nli(path: str | Path, *, limit: int | None = None, seed: int = 0) -> list[NLIPair]:
    """NLI JSONL (``sentence1`` premise, ``sentence2`` hypothesis, ``label``); ``limit`` draws a reproducible sample."""
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"NLI file not found: {path}")
    pairs = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pair = NLIPair(str(row["sentence1"]), str(row["sentence2"]), str(row["label"]).strip().lower())
            except (ValueError, KeyError, TypeError) as exc:
                raise EvalError(f"{path}:{line_no}: expected sentence1, sentence2 and label ({exc})") from exc
            if pair.label not in LABELS:
                raise EvalError(f"{path}:{line_no}: unknown label {pair.label!r}: use {', '.join(LABELS)}")
            pairs.append(pair)
    if not any(p.supported for p in pairs) or all(p.supported for p in pairs):
        raise EvalError(f"{path}: needs both entailment and other pairs to measure a scorer")
    if limit is not None and limit < len(pairs):
        pairs = random.Random(seed).sample(pairs, limit)
    return pairs


def split_pairs(pairs: Sequence[NLIPair], fit_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of the fit and held-out parts, stratified by label."""
    if not 0 < fit_fraction < 1:
        raise EvalError(f"--fit-fraction must be between 0 and 1, got {fit_fraction}")
    rng = random.Random(seed)
    fit, held = [], []
    for label in LABELS:
        members = [i for i, p in enumerate(pairs) if p.label == label]
        rng.shuffle(members)
        cut = round(len(members) * fit_fraction)
        fit += members[:cut]
        held += members[cut:]
    return sorted(fit), sorted(held)


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(labels, dtype=bool), np.asarray(scores, dtype=float)))


def balanced_accuracy(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> float:
    from sklearn.metrics import balanced_accuracy_score

    predicted = np.asarray(scores, dtype=float) >= threshold
    return float(balanced_accuracy_score(np.asarray(labels, dtype=bool), predicted))


def best_threshold(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """The threshold with the highest balanced accuracy (midpoints between distinct scores)."""
    values = np.unique(np.asarray(scores, dtype=float))
    candidates = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    accuracies = [balanced_accuracy(labels, scores, t) for t in candidates]
    return float(candidates[int(np.argmax(accuracies))])


def _part(pairs, scores, indices, threshold, configured) -> dict:
    labels = [pairs[i].supported for i in indices]
    values = [scores[i] for i in indices]
    by_label = {
        label: float(np.mean([scores[i] for i in indices if pairs[i].label == label]))
        for label in LABELS
        if any(pairs[i].label == label for i in indices)
    }
    return {
        "pairs": len(indices),
        "auroc": auroc(labels, values),
        "balanced_accuracy": balanced_accuracy(labels, values, threshold),
        "balanced_accuracy_configured": balanced_accuracy(labels, values, configured),
        "mean_score_by_label": by_label,
    }


def evaluate_scorer(
    scorer,
    pairs: Sequence[NLIPair],
    *,
    configured_threshold: float,
    fit_fraction: float = 0.5,
    seed: int = 0,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Score every pair, fit the threshold on the fit part, report held-out figures."""
    progress = on_progress or (lambda label, done, total: None)
    scores = []
    for i, pair in enumerate(pairs):
        if i % 50 == 0:
            progress("scoring pairs", i, len(pairs))
        scores.append(float(scorer.score(pair.hypothesis, [pair.premise])))
    progress("scoring pairs", len(pairs), len(pairs))
    fit, held = split_pairs(pairs, fit_fraction, seed)
    threshold = best_threshold([pairs[i].supported for i in fit], [scores[i] for i in fit])
    held_out = _part(pairs, scores, held, threshold, configured_threshold)
    return {
        "scorer": getattr(scorer, "name", type(scorer).__name__),
        "pairs": len(pairs),
        "labels": {label: sum(p.label == label for p in pairs) for label in LABELS},
        "fit_fraction": fit_fraction,
        "seed": seed,
        "fitted_threshold": threshold,
        "configured_threshold": configured_threshold,
        "fit": _part(pairs, scores, fit, threshold, configured_threshold),
        "held_out": held_out,
        # the headline figures: held-out pairs, threshold fitted on the fit part
        "balanced_accuracy": held_out["balanced_accuracy"],
        "auroc": held_out["auroc"],
    }


def fit_support_model(scorer, pairs: Sequence[NLIPair], *, fit_fraction: float = 0.5, seed: int = 0, source: str = ""):
    """Refit the offline scorer's weights (chat/support_model.py) on the fit part of NLI pairs.

    Class-balanced logistic regression; then the intercept is shifted so that
    0.5 is the threshold with the best balanced accuracy on the fit part (the
    scores take few distinct values, so that point is not exactly the
    regression's own 0.5). Pairs failing a hard check are left out of the
    regression (their score is capped at 0 anyway). A weight with the wrong sign
    (support falling with overlap) drops its feature.
    """
    from sklearn.linear_model import LogisticRegression

    from chat.support_model import SupportModel

    fit, _ = split_pairs(pairs, fit_fraction, seed)
    checks = [scorer.check(pairs[i].hypothesis, [pairs[i].premise]) for i in fit]
    floor = SupportModel(intercept=0.0, missing=0.0, negation=0.0).min_coverage
    # Pairs a hard check or the coverage floor decides stay out of the regression: their score is 0 anyway.
    rows = [
        (c, pairs[i].supported)
        for c, i in zip(checks, fit)
        if c.hard_checks_passed and c.claim_terms and c.lexical >= floor
    ]
    use_dense = scorer.embedder is not None
    names = ["missing", "negation"] + (["dense"] if use_dense else [])
    signs = {"missing": -1, "negation": -1, "dense": 1}

    def features(check) -> list[float]:
        values = {
            "missing": SupportModel.missing_feature(len(check.missing_terms), check.claim_terms),
            "negation": float(check.negation_mismatch),
            "dense": check.dense or 0.0,
        }
        return [values[n] for n in names]

    labels = np.asarray([label for _, label in rows])
    while True:
        X = np.asarray([features(c) for c, _ in rows])
        model = LogisticRegression(class_weight="balanced", max_iter=1000).fit(X, labels)
        weights = dict(zip(names, model.coef_[0]))
        wrong = [n for n, w in weights.items() if np.sign(w) not in (0, signs[n])]
        if not wrong:
            break
        names = [n for n in names if n not in wrong]
    fitted = SupportModel(
        intercept=float(model.intercept_[0]), **{n: float(weights.get(n, 0.0)) for n in ("missing", "negation", "dense")}
    )
    scores = [
        fitted.score(
            missing_terms=len(c.missing_terms), claim_terms=c.claim_terms, negation_mismatch=c.negation_mismatch, dense=c.dense
        )
        if c.hard_checks_passed and c.claim_terms
        else 0.0
        for c in checks
    ]
    threshold = min(0.99, max(0.01, best_threshold([pairs[i].supported for i in fit], scores)))
    shift = -math.log(threshold / (1 - threshold))  # move the fitted decision point to 0.5
    return SupportModel(
        intercept=round(fitted.intercept + shift, 4),
        **{n: round(float(weights.get(n, 0.0)), 4) for n in ("missing", "negation", "dense")},
        fitted_on=f"{source} fit part ({len(rows)} pairs, fit_fraction {fit_fraction}, seed {seed})",
    )


def make_scorer(settings, judge: str, *, dense: bool = False):
    """(scorer, configured threshold) for ``offline`` (optionally with the configured embedder) or ``llm``."""
    if judge == "llm":
        from eval.judge import LLMJudge

        return LLMJudge(settings), settings.eval_judge_threshold
    if judge != "offline":
        raise EvalError(f"unknown scorer {judge!r}: use offline or llm")
    from chat.support import OfflineSupportScorer

    embedder = None
    if dense:
        from bots.app import KuraApp

        embedder = KuraApp(settings).embedder
    return OfflineSupportScorer(embedder), settings.support_threshold


def write_scorer_results(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    held, fit = results["held_out"], results["fit"]
    lines = [
        f"# Support scorer on NLI: {results['scorer']}",
        "",
        f"Dataset `{results.get('dataset', '?')}`: {results['pairs']} pairs {results['labels']}. "
        f"Fit part {fit['pairs']} pairs, held-out part {held['pairs']} (stratified, seed {results['seed']}).",
        "Supported = entailment; neutral and contradiction count as unsupported.",
        "",
        "| part | pairs | AUROC | balanced accuracy (fitted threshold) | balanced accuracy (configured threshold) |",
        "|---|---:|---:|---:|---:|",
        f"| held-out | {held['pairs']} | {held['auroc']:.3f} | {held['balanced_accuracy']:.3f} | {held['balanced_accuracy_configured']:.3f} |",
        f"| fit | {fit['pairs']} | {fit['auroc']:.3f} | {fit['balanced_accuracy']:.3f} | {fit['balanced_accuracy_configured']:.3f} |",
        "",
        f"Fitted threshold {results['fitted_threshold']:.3f}; configured threshold {results['configured_threshold']:.3f}.",
        "",
        "Mean score by label (held-out): "
        + ", ".join(f"{k} {v:.3f}" for k, v in held["mean_score_by_label"].items()),
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")
