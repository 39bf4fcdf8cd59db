"""The offline support scorer: term overlap, hard checks on numbers and names, optional dense similarity."""

from __future__ import annotations

import pytest

from chat.support import OfflineSupportScorer, names_in, numbers_in
from chat.support_model import LEXICAL_MODEL, SupportModel

SUPPORTED = 0.5  # the decision point the weights are fitted for (chat/support_model.py)
# What a claim whose every content term is in the sources scores (the model's ceiling, about 0.83).
FULL = LEXICAL_MODEL.score(missing_terms=0, claim_terms=4, negation_mismatch=False, dense=None) - 1e-9

SOURCE = (
    "Employees may work remotely up to 3 days per week. Requests go to your manager in Workday "
    "at least 5 business days in advance. The policy was updated on 2024-03-01 by Priya Nair."
)


@pytest.fixture
def scorer():
    return OfflineSupportScorer()


def test_paraphrase_of_the_source_is_supported(scorer):
    assert scorer.score("Employees may work remotely 3 days per week [1].", [SOURCE]) >= FULL


def test_light_stemming_matches_inflections(scorer):
    # "requested" / "managers" against "Requests" / "manager"
    assert scorer.score("Remote work is requested from managers.", [SOURCE]) > SUPPORTED


def test_unrelated_claim_scores_low(scorer):
    assert scorer.score("The cafeteria serves ramen on Fridays.", [SOURCE]) < 0.3


def test_a_number_missing_from_the_source_makes_the_claim_unsupported(scorer):
    check = scorer.check("Employees may work remotely up to 4 days per week.", [SOURCE])
    assert check.lexical >= 0.85  # every word but the figure is there ...
    assert check.missing_numbers == ("4",)
    assert check.score == 0.0  # ... but the figure is invented


def test_dates_are_checked_digit_group_by_digit_group(scorer):
    assert scorer.score("The policy was updated on 2024-03-01.", [SOURCE]) >= FULL
    assert scorer.score("The policy was updated on 2023-03-01.", [SOURCE]) == 0.0


def test_thousands_separators_do_not_matter():
    assert numbers_in("a budget of 1,000 USD") == numbers_in("a budget of 1000 USD")


def test_an_invented_name_makes_the_claim_unsupported(scorer):
    check = scorer.check("The policy was updated by Priya Mallory.", [SOURCE])
    assert check.missing_names == ("mallory",)
    assert check.score == 0.0
    assert scorer.score("The policy was updated by Priya Nair.", [SOURCE]) >= FULL


def test_an_address_missing_from_the_source_makes_the_claim_unsupported(scorer):
    source = "Printer problems: write to helpdesk@hoshi.example or see https://wiki.example.com/printers."
    assert scorer.score("Printer problems: write to helpdesk@hoshi.example.", [source]) >= FULL
    assert scorer.score("Printer problems: see https://wiki.example.com/printers.", [source]) >= FULL
    check = scorer.check("Printer problems: write to it-support@hoshi.example.", [source])
    assert check.missing_addresses == ("it-support@hoshi.example",) and check.score == 0.0


def test_a_figure_must_occur_where_the_claim_puts_it(scorer):
    source = "Employees get 30 vacation days per year. The office has 12 meeting rooms."
    assert scorer.score("Employees get 30 vacation days per year.", [source]) >= FULL
    check = scorer.check("Employees get 12 vacation days per year.", [source])
    assert check.missing_numbers == ("12",) and check.score == 0.0  # 12 is on the page, but not about vacation


def test_sentence_initial_words_are_not_names_but_acronyms_are():
    assert names_in("Employees must ask HR.") == {"hr"}
    assert "employees" not in names_in("Employees must ask HR.")
    assert names_in("Ask Priya in Workday.") == {"priya", "workday"}


def test_citation_markers_are_not_claimed_numbers(scorer):
    assert scorer.check("Employees may work remotely [7].", [SOURCE]).missing_numbers == ()


def test_support_can_come_from_several_sources(scorer):
    a = "Expenses are filed in Concur."
    b = "Receipts are required above 25 EUR."
    claim = "Expenses are filed in Concur and receipts are required above 25 EUR."
    assert scorer.score(claim, [a]) < 0.5
    assert scorer.score(claim, [a, b]) >= FULL


def test_no_sources_or_no_content_words_support_nothing(scorer):
    assert scorer.score("Employees may work remotely.", []) == 0.0
    assert scorer.score("It is.", [SOURCE]) == 0.0


def test_japanese_claims_use_the_japanese_tokenizer(scorer):
    source = "経費精算は月末までに申請してください。上限は5万円です。"
    assert scorer.score("経費精算は月末までに申請します。", [source]) > SUPPORTED
    assert scorer.score("上限は10万円です。", [source]) == 0.0


def test_bad_weights_are_rejected():
    with pytest.raises(ValueError):
        OfflineSupportScorer(hard_check_cap=1.5)
    with pytest.raises(ValueError, match="monotone"):
        SupportModel(intercept=0.0, missing=0.5, negation=0.0)  # more missing terms may never raise support


def test_a_negated_claim_is_not_supported_by_the_positive_statement(scorer):
    check = scorer.check("Employees may not work remotely.", [SOURCE])
    assert check.negation_mismatch and check.score < SUPPORTED
    source = "Visitors may not bring laptops into the lab."
    assert scorer.score("Visitors may not bring laptops into the lab.", [source]) >= FULL
    assert scorer.check("Visitors may bring laptops into the lab.", [source]).negation_mismatch
    assert scorer.score("来客はラボにノートパソコンを持ち込めません。", ["来客はラボにノートパソコンを持ち込めます。"]) < SUPPORTED


def test_more_missing_terms_mean_less_support(scorer):
    scores = [
        scorer.score(claim, [SOURCE])
        for claim in (
            "Employees may work remotely.",
            "Employees may work remotely from cafes.",
            "Employees may work remotely from cafes and beaches.",
        )
    ]
    assert scores[0] > scores[1] > scores[2] and scores[0] >= FULL


def test_dense_similarity_blends_in_with_an_embedder(embedder):
    close = OfflineSupportScorer(embedder).check("Staff can work from home three days a week.", [SOURCE])
    far = OfflineSupportScorer(embedder).check("The cafeteria serves ramen on Fridays.", [SOURCE])
    assert close.dense is not None and far.dense is not None
    assert close.dense > far.dense + 0.2
    # With a positive dense weight (as fitted on data the embedder can read), a paraphrase with few shared
    # words scores higher with the embedder than without.
    weighted = SupportModel(intercept=LEXICAL_MODEL.intercept, missing=LEXICAL_MODEL.missing,
                            negation=LEXICAL_MODEL.negation, dense=2.0)  # fmt: skip
    claim = "Staff can work from home three days a week."
    assert OfflineSupportScorer(embedder, model=weighted).score(claim, [SOURCE]) > OfflineSupportScorer().score(claim, [SOURCE])


def test_a_short_claim_missing_most_of_its_words_is_unsupported(scorer):
    # Two of three content words invented: under the coverage floor, whatever the missing-term count says.
    assert scorer.score("The office is closed forever.", ["Office hours are 9:00 to 17:00 on weekdays."]) == 0.0
