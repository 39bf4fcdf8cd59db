"""Metrics on tiny hand-made rankings and answers whose values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from eval.datasets import EvalExample, Evidence
from eval.metrics import (
    chunk_satisfies,
    contains_answer,
    evidence_item,
    exact_match,
    f1_score,
    first_relevant_rank,
    percentile,
    ranked_items,
    ranking_metrics,
    span_overlap,
)
from tests.eval.helpers import chunk

E0, E1 = evidence_item(0), evidence_item(1)

DOC = "d"
TEXT = "0123456789" * 10  # a 100-character document


def test_a_chunk_is_relevant_when_its_span_covers_the_answer_span():
    evidence = Evidence(DOC, answer_spans=((20, 30),))
    assert chunk_satisfies(evidence, chunk(DOC, TEXT[15:35], 15))
    assert chunk_satisfies(evidence, chunk(DOC, TEXT[20:30], 20))  # exactly the span
    assert not chunk_satisfies(evidence, chunk(DOC, TEXT[21:40], 21))  # cuts the answer
    assert not chunk_satisfies(evidence, chunk(DOC, TEXT[0:29], 0))
    assert not chunk_satisfies(evidence, chunk("other", TEXT[15:35], 15))


def test_without_offsets_relevance_falls_back_to_the_quoted_text():
    quoted = Evidence(DOC, answer_spans=((0, 5),), text="alpha")
    assert chunk_satisfies(quoted, chunk(DOC, "summary: alpha beta", -1))
    assert not chunk_satisfies(Evidence(DOC, answer_spans=((0, 5),)), chunk(DOC, "alpha", -1))
    assert chunk_satisfies(Evidence(DOC), chunk(DOC, "anything"))  # document-level evidence


def test_overlapping_chunks_holding_the_same_answer_count_once():
    example = EvalExample("q", "?", evidence=(Evidence(DOC, answer_spans=((20, 30),)),))
    ranking = [chunk(DOC, TEXT[0:15], 0, 0), chunk(DOC, TEXT[10:40], 10, 1), chunk(DOC, TEXT[15:45], 15, 2)]
    items = ranked_items(example, ranking)
    assert items == [ranking[0].id, E0]
    assert first_relevant_rank(items) == 2


def test_ranking_metrics_match_hand_computed_values():
    rankings = {
        "hit-at-2": ["x", E0, "y"],
        "miss": ["x", "y"],
        "hit-at-1": [E0],
        "two-evidence-one-at-3": ["x", "y", E1],
        "nothing-retrieved": [],
        "no-evidence": ["x"],  # unanswerable: left out
    }
    counts = {"hit-at-2": 1, "miss": 1, "hit-at-1": 1, "two-evidence-one-at-3": 2, "nothing-retrieved": 1}
    scores = ranking_metrics(rankings, counts)
    assert scores["recall@1"] == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert scores["recall@5"] == [1.0, 0.0, 1.0, 0.5, 0.0]
    assert scores["mrr@10"] == pytest.approx([0.5, 0.0, 1.0, 1 / 3, 0.0])
    ideal_two = 1 + 1 / math.log2(3)
    assert scores["ndcg@10"] == pytest.approx([1 / math.log2(3), 0.0, 1.0, (1 / math.log2(4)) / ideal_two, 0.0])


def test_recall_at_10_counts_ranks_up_to_10_only():
    eleven = [f"x{i}" for i in range(10)] + [E0]
    scores = ranking_metrics({"late": eleven, "tenth": eleven[1:]}, {"late": 1, "tenth": 1})
    assert scores["recall@10"] == [0.0, 1.0]
    assert scores["mrr@10"] == pytest.approx([0.0, 0.1])


def test_span_overlap_precision_recall_iou():
    example = EvalExample("q", "?", evidence=(Evidence(DOC, answer_spans=((25, 28),), sentence_span=(20, 40)),))
    # chunks [0, 30) and [25, 50) overlap; union [0, 50) = 50 chars, 20 of them evidence
    chunks = [chunk(DOC, TEXT[0:30], 0), chunk(DOC, TEXT[25:50], 25), chunk("other", "x" * 10, 0)]
    overlap = span_overlap(example, chunks, k=2)
    assert overlap == pytest.approx({"span_precision": 20 / 50, "span_recall": 1.0, "span_iou": 20 / 50})
    # the third chunk (another document) adds 10 retrieved characters and nothing relevant
    overlap3 = span_overlap(example, chunks, k=3)
    assert overlap3 == pytest.approx({"span_precision": 20 / 60, "span_recall": 1.0, "span_iou": 20 / 60})
    half = span_overlap(example, [chunk(DOC, TEXT[30:60], 30)])
    assert half == pytest.approx({"span_precision": 10 / 30, "span_recall": 0.5, "span_iou": 10 / 40})
    assert span_overlap(EvalExample("u", "?"), chunks) is None


def test_exact_match_and_f1_in_english_are_word_level():
    assert exact_match("The Front Desk.", ["front desk"], "en") == 1.0
    assert exact_match("at the front desk", ["front desk"], "en") == 0.0
    # words: [at, front, desk, of, office] vs [front, desk]: P 2/5, R 1
    assert f1_score("at the front desk of the office", ["the front desk", "lobby"], "en") == pytest.approx(4 / 7)
    assert f1_score("nothing alike", ["front desk"], "en") == 0.0


def test_exact_match_and_f1_in_japanese_are_character_level():
    assert exact_match("５月から７月。", ["5月から7月"], "ja") == 1.0  # NFKC + punctuation
    # 10 characters against 6, all 6 shared: P 0.6, R 1
    assert f1_score("5月から7月にかけて", ["5月から7月"], "ja") == pytest.approx(0.75)


def test_answer_containment():
    assert contains_answer("Receipts go to Concur [1].", ["Concur"], "en") == 1.0
    assert contains_answer("Concatenate the files.", ["cat"], "en") == 0.0  # whole words only
    assert contains_answer("梅雨は5月から7月にかけて来る。", ["5月から7月"], "ja") == 1.0
    assert contains_answer("梅雨は初夏に来る。", ["5月から7月"], "ja") == 0.0


def test_percentile():
    assert percentile([1, 2, 3, 4, 100], 50) == 3
    assert percentile([], 95) is None
