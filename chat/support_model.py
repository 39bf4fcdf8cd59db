"""The fitted part of the offline support scorer: how its signals combine into one 0..1 score.

    z = intercept + w_missing * missing / sqrt(claim terms) + w_negation * polarity mismatch [+ w_dense * dense]
    score = 1 / (1 + exp(-z))

- ``missing``: the claim's content terms that no source contains. Measured on
  JNLI, how many terms are missing separates entailment from the rest better
  than the share that is present (a two-term claim missing one term is not
  "half supported"); dividing by the square root of the claim's length keeps
  long answer sentences with a paraphrased word or two from being punished
  linearly.
- ``polarity mismatch``: the claim is negated and the source sentence that
  matches it best is not, or the other way round ("X is not allowed" against
  "X is allowed").
- ``dense``: cosine similarity with the configured embedder, when there is one.

A claim of which less than ``min_coverage`` of the content terms are found
scores 0 whatever the rest says: counting missing terms alone would let a
three-word claim with two invented words pass ("The office is closed forever"
against "Office hours are 9 to 17"). The floor (0.4) was chosen on the fit part,
where it costs nothing measurable (AUROC 0.691 vs 0.693; 0.5 would cost 0.02).

The weights are fitted by class-balanced logistic regression on the fit half
of JNLI (``kura eval scorer --nli ... --refit`` prints them), so a score of
0.5 is the balanced decision point. Only monotone weights are accepted (more
missing terms never raise support, more similarity never lowers it): JNLI's
contradictions copy their premise nearly verbatim, and a model free to learn
"more overlap = less support" from that would fail on real answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Negation: English words, and Japanese negative endings (ない/ません/ず/ぬ, 無い/なし)
# after a verb or adjective stem; 少ない, 危ない and the like are words of their own, not negations.
_NEGATION_EN = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
_NEGATION_JA = re.compile(r"(?<![少危幼汚切])(?:ない|なかっ|ません|ず(?=[、。にのとも]|$)|ぬ(?=[、。]|$)|無い|無し|なし)")


def negated(text: str) -> bool:
    """Whether a sentence says something is not so (a coarse polarity check, English and Japanese)."""
    return bool(_NEGATION_EN.search(text) or _NEGATION_JA.search(text))


@dataclass(frozen=True)
class SupportModel:
    """Weights of the logistic combination; ``dense`` is used only when the scorer has an embedder."""

    intercept: float
    missing: float
    negation: float
    dense: float = 0.0
    fitted_on: str = ""
    min_coverage: float = 0.4

    def __post_init__(self) -> None:
        if self.missing > 0 or self.negation > 0 or self.dense < 0:
            raise ValueError("support weights must be monotone: missing <= 0, negation <= 0, dense >= 0")

    @staticmethod
    def missing_feature(missing_terms: int, claim_terms: int) -> float:
        return missing_terms / math.sqrt(max(1, claim_terms))

    def score(self, *, missing_terms: int, claim_terms: int, negation_mismatch: bool, dense: float | None) -> float:
        if claim_terms and 1 - missing_terms / claim_terms < self.min_coverage:
            return 0.0
        z = (
            self.intercept
            + self.missing * self.missing_feature(missing_terms, claim_terms)
            + self.negation * float(negation_mismatch)
            + (self.dense * dense if dense is not None else 0.0)
        )
        return 1.0 / (1.0 + math.exp(-z))


# Fitted with `kura eval scorer --nli ../shared/datasets/jnli/valid-v1.3.json --refit --out DIR`
# (fit half: 1,217 stratified pairs, seed 0, of which 823 pass the hard checks and the coverage floor; the
# held-out half is what the README reports: AUROC 0.707, balanced accuracy 0.686 at 0.5).
LEXICAL_MODEL = SupportModel(
    intercept=1.2117, missing=-0.8794, negation=-1.5152, fitted_on="JNLI valid-v1.3 fit part (823 pairs, seed 0)"
)
# With `--dense` and the default all-MiniLM-L6-v2 the dense weight came out negative on JNLI (the model
# cannot read Japanese) and was dropped, so the embedder adds nothing here. Refit on labelled pairs in a
# language the configured embedder reads to give it a weight.
DENSE_MODEL = SupportModel(
    intercept=1.2117,
    missing=-0.8794,
    negation=-1.5152,
    dense=0.0,
    fitted_on="JNLI valid-v1.3 fit part with all-MiniLM-L6-v2 (dense weight negative, dropped)",
)
