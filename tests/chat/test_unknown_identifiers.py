"""An identifier that no document the asker may read holds (CC-600, FY2028, G4) makes a question unanswerable."""

from __future__ import annotations

import pytest

from bots.app import KuraApp
from chat.answerability import AnswerabilityModel, CountTermStats, _holds_identifier, identifiers
from ingest.connectors.sample import SampleConnector
from tests.bots.web.conftest import ALICE, BOB, ListConnector, clean_settings, documents
from tests.chat.conftest import make_hit


def test_identifiers_start_with_a_letter_and_hold_a_digit():
    assert identifiers("Who is the budget holder for cost centre CC-600?") == ["CC-600"]
    assert identifiers("2026年度の給与バンドで、東京のG4の下限年収は？") == ["G4"]
    assert identifiers("INC-2026-014 では何台停止しましたか？ FY2028 budget") == ["INC-2026-014", "FY2028"]
    assert identifiers("buildings over 200m built in the 1600s, the 3rd one, HoshiOS 9.0") == []


def test_an_identifier_is_matched_ignoring_case_hyphens_spaces_and_a_plural():
    assert _holds_identifier("Budget for FY 2028 and cc-600", "FY2028")
    assert _holds_identifier("Cost centre: CC-600; holder: Ben", "cc600")
    assert _holds_identifier("Ten DB10 cars were built.", "DB10s")
    assert not _holds_identifier("Cost centre: CC-400; Amount: 600 EUR", "CC-600")


def test_a_near_miss_on_an_identifier_abstains_where_the_neighbour_would_answer(embedder):
    chunk = make_hit("cc", "Cost centre: CC-400; Department: IT and security; Budget holder: Ben Fischer.",
                     title="Cost centres")
    stats = CountTermStats({"cc": 3, "400": 2, "cost": 9, "centre": 9, "budget": 8, "holder": 3}, 10)
    model = AnswerabilityModel(embedder)
    asked = model.assess("Who is the budget holder for cost centre CC-400?", [chunk], term_stats=stats)
    near_miss = model.assess("Who is the budget holder for cost centre CC-600?", [chunk], term_stats=stats)
    assert asked.answerable() and not asked.unknown
    assert near_miss.unknown == ("CC-600",) and not near_miss.answerable()
    # The LLM gate ignores the rule (the model's NOT_FOUND judges the identifier): the scores alone decide it.
    assert near_miss.gate_margin == model.assess(
        "Who is the budget holder for cost centre CC-600?", [chunk], term_stats=stats, rules=False
    ).gate_margin >= 0


@pytest.fixture(scope="module")
def kura(tmp_path_factory, embedder):
    app = KuraApp(clean_settings(data_dir=tmp_path_factory.mktemp("ids-data")), embedder=embedder)
    app.ingest(ListConnector(documents()))
    sample = SampleConnector()
    app.record_identities("sample", sample.identities(), sample.slack_aliases())
    yield app
    app.close()


def test_an_identifier_only_a_restricted_document_holds_is_unknown_to_who_may_not_read_it(kura):
    # G4 is a row of the salary bands, which only finance may read.
    question = "2026年度の給与バンドで、東京のG4の下限年収はいくらですか？"
    denied = kura.extractive.answerability.assess(
        question, kura.retriever.retrieve(question, top_k=8, principals=kura.principals_for(BOB)),
        term_stats=kura.term_stats(kura.principals_for(BOB)))
    allowed = kura.extractive.answerability.assess(
        question, kura.retriever.retrieve(question, top_k=8, principals=kura.principals_for(ALICE)),
        term_stats=kura.term_stats(kura.principals_for(ALICE)))
    assert denied.unknown == ("G4",) and not denied.answerable()
    assert allowed.unknown == ()
    answer = kura.ask(question, principals=kura.principals_for(BOB))
    assert answer.abstained


def test_the_index_is_asked_for_the_identifier_itself_among_what_the_asker_may_read(kura):
    # KIRIN-26 is the salary bands' revision code: Alice may read them, Bob may not. KIRIN-27 is nowhere, though
    # its word KIRIN is in what Alice reads: the identifier itself must be found, not any of its terms.
    bob, alice = kura.term_stats(kura.principals_for(BOB)), kura.term_stats(kura.principals_for(ALICE))
    assert alice.mentions("KIRIN-26")
    assert not bob.mentions("KIRIN-26") and not alice.mentions("KIRIN-27")
