"""The offline support scorer: term overlap, hard checks on numbers and names, optional dense similarity."""

from __future__ import annotations

import pytest

from chat.support import OfflineSupportScorer, names_in, numbers_in

SOURCE = (
    "Employees may work remotely up to 3 days per week. Requests go to your manager in Workday "
    "at least 5 business days in advance. The policy was updated on 2024-03-01 by Priya Nair."
)


@pytest.fixture
def scorer():
    return OfflineSupportScorer()


def test_paraphrase_of_the_source_is_supported(scorer):
    assert scorer.score("Employees may work remotely 3 days per week [1].", [SOURCE]) >= 0.9


def test_light_stemming_matches_inflections(scorer):
    # "requested" / "managers" against "Requests" / "manager"
    assert scorer.score("Remote work is requested from managers.", [SOURCE]) >= 0.75


def test_unrelated_claim_scores_low(scorer):
    assert scorer.score("The cafeteria serves ramen on Fridays.", [SOURCE]) < 0.3


def test_a_number_missing_from_the_source_makes_the_claim_unsupported(scorer):
    check = scorer.check("Employees may work remotely up to 4 days per week.", [SOURCE])
    assert check.lexical >= 0.85  # every word but the figure is there ...
    assert check.missing_numbers == ("4",)
    assert check.score == 0.0  # ... but the figure is invented


def test_dates_are_checked_digit_group_by_digit_group(scorer):
    assert scorer.score("The policy was updated on 2024-03-01.", [SOURCE]) >= 0.9
    assert scorer.score("The policy was updated on 2023-03-01.", [SOURCE]) == 0.0


def test_thousands_separators_do_not_matter():
    assert numbers_in("a budget of 1,000 USD") == numbers_in("a budget of 1000 USD")


def test_an_invented_name_makes_the_claim_unsupported(scorer):
    check = scorer.check("The policy was updated by Priya Mallory.", [SOURCE])
    assert check.missing_names == ("mallory",)
    assert check.score == 0.0
    assert scorer.score("The policy was updated by Priya Nair.", [SOURCE]) >= 0.9


def test_an_address_missing_from_the_source_makes_the_claim_unsupported(scorer):
    source = "Printer problems: write to helpdesk@hoshi.example or see https://wiki.example.com/printers."
    assert scorer.score("Printer problems: write to helpdesk@hoshi.example.", [source]) >= 0.9
    assert scorer.score("Printer problems: see https://wiki.example.com/printers.", [source]) >= 0.9
    check = scorer.check("Printer problems: write to it-support@hoshi.example.", [source])
    assert check.missing_addresses == ("it-support@hoshi.example",) and check.score == 0.0


def test_a_figure_must_occur_where_the_claim_puts_it(scorer):
    source = "Employees get 30 vacation days per year. The office has 12 meeting rooms."
    assert scorer.score("Employees get 30 vacation days per year.", [source]) >= 0.9
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
    assert scorer.score(claim, [a, b]) >= 0.9


def test_no_sources_or_no_content_words_support_nothing(scorer):
    assert scorer.score("Employees may work remotely.", []) == 0.0
    assert scorer.score("It is.", [SOURCE]) == 0.0


def test_japanese_claims_use_the_japanese_tokenizer(scorer):
    source = "経費精算は月末までに申請してください。上限は5万円です。"
    assert scorer.score("経費精算は月末までに申請します。", [source]) >= 0.7
    assert scorer.score("上限は10万円です。", [source]) == 0.0


def test_bad_weights_are_rejected():
    with pytest.raises(ValueError):
        OfflineSupportScorer(dense_weight=1.5)


def test_dense_similarity_blends_in_with_an_embedder(embedder):
    dense = OfflineSupportScorer(embedder, dense_weight=0.5)
    close = dense.check("Staff can work from home three days a week.", [SOURCE])
    far = dense.check("The cafeteria serves ramen on Fridays.", [SOURCE])
    assert close.dense is not None and far.dense is not None
    assert close.dense > far.dense + 0.2
    # A paraphrase with few shared words scores higher with the embedder than without.
    assert close.score > OfflineSupportScorer().score("Staff can work from home three days a week.", [SOURCE])
