"""Retrieval and answer metrics.

Retrieval: a question's relevant items are its ``Evidence`` entries. A
retrieved chunk stands for the first evidence it satisfies (article mode: its
span covers the gold answer's span), so several overlapping chunks holding the
same answer count once, as the first of them; recall@k is then "share of the
evidence found in the top k". Ranked lists and qrels go to ``ranx`` for
recall@1/5/10, MRR@10 and nDCG@10.

Span overlap (the chunking-evaluation measure): precision, recall and IoU of
the characters of the top-k chunks against the evidence sentence's characters,
in ``Document.text`` coordinates. Characters are the unit (as in Chroma's
chunking evaluation code), which keeps the measure independent of tokenizers.

Answers: SQuAD exact match and F1 (characters for Japanese, words for
English), containment of a gold answer in the answer, abstain rates.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

from core.types import Chunk
from eval.datasets import EvalExample, Evidence

RANKING_METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
SPAN_K = 5
EVIDENCE_PREFIX = "evidence:"  # chunk ids are UUIDs, so they never start with this


def evidence_item(index: int) -> str:
    return f"{EVIDENCE_PREFIX}{index}"


# --- relevance ---------------------------------------------------------------------------------


def chunk_satisfies(evidence: Evidence, chunk: Chunk) -> bool:
    """Whether a chunk holds the evidence: same document and, where spans are known, covering one."""
    if chunk.document_id != evidence.document_id:
        return False
    if not evidence.answer_spans:
        return not evidence.text or evidence.text in chunk.text
    if chunk.start_char < 0:
        # Not a span of the document (e.g. a summary): fall back to quoting the evidence text.
        return bool(evidence.text) and evidence.text in chunk.text
    end = chunk.start_char + len(chunk.text)
    return any(chunk.start_char <= s and e <= end for s, e in evidence.answer_spans)


def ranked_items(example: EvalExample, chunks: Sequence[Chunk]) -> list[str]:
    """The ranking as item ids: ``evidence:<i>`` for the first chunk satisfying evidence i, the chunk id otherwise."""
    items: list[str] = []
    seen: set[str] = set()
    for chunk in chunks:
        item = chunk.id
        for i, evidence in enumerate(example.evidence):
            if chunk_satisfies(evidence, chunk):
                item = evidence_item(i)
                break
        if item in seen:
            continue  # a later chunk with the same evidence adds nothing
        seen.add(item)
        items.append(item)
    return items


def first_relevant_rank(items: Sequence[str]) -> int | None:
    """1-based rank of the first relevant item, None when none was retrieved."""
    return next((r for r, item in enumerate(items, 1) if item.startswith(EVIDENCE_PREFIX)), None)


def ranking_metrics(rankings: dict[str, list[str]], evidence_counts: dict[str, int]) -> dict[str, list[float]]:
    """Per-question recall@1/5/10, MRR@10, nDCG@10 computed by ranx; questions without evidence are left out.

    ``rankings`` maps question id -> ranked item ids (from ``ranked_items``);
    the returned lists follow the order of the questions that have evidence.
    """
    from ranx import Qrels, Run, evaluate

    ids = [q for q in rankings if evidence_counts.get(q, 0) > 0]
    if not ids:
        return {m: [] for m in RANKING_METRICS}
    qrels = Qrels({q: {evidence_item(i): 1 for i in range(evidence_counts[q])} for q in ids})
    run_dict = {}
    for q in ids:
        items = rankings[q] or ["__nothing_retrieved__"]
        run_dict[q] = {item: float(len(items) - r) for r, item in enumerate(items)}
    run = Run(run_dict)
    evaluate(qrels, run, list(RANKING_METRICS), return_mean=False)
    # ranx keeps per-query scores on the run, keyed by query id (its arrays follow its own order).
    return {m: [float(run.scores[m][q]) for q in ids] for m in RANKING_METRICS}


# --- span overlap ------------------------------------------------------------------------------


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(ranges: list[tuple[int, int]]) -> int:
    return sum(e - s for s, e in ranges)


def _intersection(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def span_overlap(example: EvalExample, chunks: Sequence[Chunk], k: int = SPAN_K) -> dict[str, float] | None:
    """Character precision / recall / IoU of the top-k chunks against the evidence sentences; None without spans."""
    evidence = [e for e in example.evidence if e.sentence_span]
    if not evidence:
        return None
    retrieved: dict[str, list[tuple[int, int]]] = {}
    unplaced = 0  # characters of chunks that are not spans of their document (summaries)
    for chunk in chunks[:k]:
        if chunk.start_char < 0:
            unplaced += len(chunk.text)
        else:
            retrieved.setdefault(chunk.document_id, []).append((chunk.start_char, chunk.start_char + len(chunk.text)))
    gold: dict[str, list[tuple[int, int]]] = {}
    for e in evidence:
        gold.setdefault(e.document_id, []).append(e.sentence_span)
    retrieved = {d: _merge(r) for d, r in retrieved.items()}
    gold = {d: _merge(r) for d, r in gold.items()}
    hit = sum(_intersection(retrieved.get(d, []), g) for d, g in gold.items())
    n_retrieved = sum(_length(r) for r in retrieved.values()) + unplaced
    n_gold = sum(_length(g) for g in gold.values())
    union = n_retrieved + n_gold - hit
    return {
        "span_precision": hit / n_retrieved if n_retrieved else 0.0,
        "span_recall": hit / n_gold if n_gold else 0.0,
        "span_iou": hit / union if union else 0.0,
    }


# --- latency -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


# --- answers -----------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _is_punctuation(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith(("P", "S"))


def normalize_answer(text: str, language: str) -> str:
    """SQuAD's normalisation (lowercase, no punctuation, no articles), NFKC first; Japanese loses all spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if _is_punctuation(ch) else ch for ch in text)
    if language == "ja":
        return "".join(text.split())
    return " ".join(_ARTICLES.sub(" ", text).split())


def _tokens(text: str, language: str) -> list[str]:
    normalized = normalize_answer(text, language)
    return list(normalized) if language == "ja" else normalized.split()


def exact_match(prediction: str, golds: Sequence[str], language: str) -> float:
    predicted = normalize_answer(prediction, language)
    return float(any(predicted == normalize_answer(g, language) for g in golds))


def f1_score(prediction: str, golds: Sequence[str], language: str) -> float:
    """Best token F1 against any gold answer (tokens: characters for Japanese, words otherwise)."""
    predicted = _tokens(prediction, language)
    best = 0.0
    for gold in golds:
        gold_tokens = _tokens(gold, language)
        common = sum((Counter(predicted) & Counter(gold_tokens)).values())
        if common == 0:
            continue
        precision, recall = common / len(predicted), common / len(gold_tokens)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(prediction: str, golds: Sequence[str], language: str) -> float:
    """1.0 when a (normalised) gold answer occurs in the (normalised) prediction."""
    predicted = normalize_answer(prediction, language)
    if language != "ja":
        predicted = f" {predicted} "
    for gold in golds:
        g = normalize_answer(gold, language)
        if g and (g in predicted if language == "ja" else f" {g} " in predicted):
            return 1.0
    return 0.0


def mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(sum(present) / len(present)) if present else None
