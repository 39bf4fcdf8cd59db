"""Groundedness math: supported fraction, strict rate, citation precision and recall, on answers built by hand."""

from __future__ import annotations

import pytest

from chat.support import OfflineSupportScorer
from core.types import Answer, AnswerSentence, ScoredChunk, Source
from eval.groundedness import assess_answer, summarize
from tests.eval.helpers import chunk


class KeywordScorer:
    """Deterministic SupportScorer: a claim is supported when its last word occurs in the sources."""

    name = "keyword"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def score(self, claim, sources):
        self.calls.append((claim, tuple(sources)))
        word = claim.rstrip(".").split()[-1]
        return 1.0 if any(word in s for s in sources) else 0.0


A = chunk("d1", "Trains are booked in Navan.", 0, 0)
B = chunk("d2", "Hotels cost up to 150 EUR.", 0, 0)
C = chunk("d3", "Parking is free on Sundays.", 0, 0)


def _answer(*sentences, abstained=False):
    sources = (
        Source(1, A.document_id, A.id, "a", "", A.text[:10]),
        Source(2, B.document_id, B.id, "b", "", B.text[:10]),
    )
    return Answer(
        question="?",
        text=" ".join(s.text for s in sentences),
        sentences=tuple(sentences),
        sources=sources,
        abstained=abstained,
        answerer="test",
        retrieved=(ScoredChunk(A, 1.0), ScoredChunk(B, 0.5)),
    )


def test_sentences_are_scored_against_cited_sources_each_source_and_everything_retrieved():
    scorer = KeywordScorer()
    answer = _answer(
        AnswerSentence("Book in Navan.", (1,)),  # cited and supported
        AnswerSentence("Up to EUR.", (1, 2)),  # supported by source 2 only: citation 1 is wrong
        AnswerSentence("Parking on Sundays.", ()),  # uncited; supported by retrieved chunk C
        AnswerSentence("Lunch is on Fridays.", (2,)),  # supported by nothing
    )
    result = assess_answer(answer, [A, B, C], scorer, threshold=0.5)
    assert [s.cited_score for s in result.sentences] == [1.0, 1.0, 0.0, 0.0]
    assert [s.any_score for s in result.sentences] == [1.0, 1.0, 1.0, 0.0]
    assert result.sentences[1].citation_supports == {1: False, 2: True}
    assert result.supported_fraction == 0.5
    assert result.supported_fraction_any == 0.75
    assert result.all_supported == 0.0
    # the cited sources are scored with their full chunk text, not the snippet
    assert ("Book in Navan.", (A.text,)) in scorer.calls

    summary = summarize([result])
    # citations: sentence 1 -> 1 ok, 2 -> 1 wrong, 2 -> 2 ok, 4 -> 2 wrong
    assert summary["citation_precision"] == pytest.approx(2 / 4)
    assert summary["citation_recall"] == pytest.approx(2 / 3)  # of 3 supported sentences, 2 carry citations


def test_run_summary_averages_over_answers_and_skips_abstentions():
    scorer = KeywordScorer()
    good = assess_answer(_answer(AnswerSentence("In Navan.", (1,))), [A, B], scorer, 0.5)
    half = assess_answer(
        _answer(AnswerSentence("In Navan.", (1,)), AnswerSentence("On Mars.", (1,))), [A, B], scorer, 0.5
    )
    abstained = assess_answer(_answer(abstained=True), [A, B], scorer, 0.5)
    summary = summarize([good, half, abstained])
    assert summary["groundedness"] == pytest.approx(0.75)
    assert summary["groundedness_strict"] == pytest.approx(0.5)
    assert summary["citation_precision"] == pytest.approx(2 / 3)
    assert summarize([abstained])["groundedness"] is None


def test_a_citation_to_a_source_that_does_not_exist_supports_nothing():
    result = assess_answer(_answer(AnswerSentence("In Navan.", (7,))), [A, B], KeywordScorer(), 0.5)
    assert result.sentences[0].cited_score == 0.0
    assert result.sentences[0].citation_supports == {7: False}


def test_with_the_offline_scorer_an_invented_figure_is_unsupported():
    scorer = OfflineSupportScorer()
    answer = _answer(AnswerSentence("Hotels cost up to 150 EUR.", (2,)), AnswerSentence("Hotels cost up to 400 EUR.", (2,)))
    result = assess_answer(answer, [A, B], scorer, threshold=0.5)
    assert result.supported_fraction == 0.5
    assert [s.citation_supports[2] for s in result.sentences] == [True, False]


def test_abstentions_are_judged_against_the_gold_answer():
    from eval.groundedness import assess_abstention

    scorer = OfflineSupportScorer()
    remote = chunk("d", "Employees may work remotely up to 3 days per week. Requests go to the manager.", 0)
    vpn = chunk("v", "Install Hoshi Connect to use the VPN from home.", 0)
    question = "How many days per week can employees work remotely?"
    # The answer was retrieved: abstaining was wrong.
    assert assess_abstention(question, ["3 days per week"], True, [remote], scorer, 0.5) == 0.0
    # Only unrelated text was retrieved: abstaining was right.
    assert assess_abstention(question, ["3 days per week"], True, [vpn], scorer, 0.5) == 1.0
    # An unanswerable question's abstention is right by its label; no gold means nothing to judge.
    assert assess_abstention(question, [], False, [remote], scorer, 0.5) == 1.0
    assert assess_abstention(question, [], True, [remote], scorer, 0.5) is None
