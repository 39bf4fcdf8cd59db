"""Citation checking: sentence splitting, [n] parsing, invalid citations, support, marking and dropping, links."""

from __future__ import annotations

from chat.citations import (
    UNVERIFIED_MARK,
    AnswerVerifier,
    parse_citations,
    remove_unsourced_links,
    split_sentences,
)
from chat.context import ContextBuilder
from chat.support import OfflineSupportScorer
from tests.chat.conftest import CORPUS, make_hit


def documents(hits=CORPUS):
    return ContextBuilder(model="gpt-4o-mini", context_tokens=4000, answer_tokens=500).build(hits)


def verify(text: str, mode: str = "mark", hits=CORPUS, system_prompt: str = "") -> AnswerVerifier:
    verifier = AnswerVerifier(
        documents(hits), OfflineSupportScorer(), threshold=0.5, mode=mode, system_prompt=system_prompt
    )
    for raw in split_sentences(text)[0]:
        verifier.add(raw)
    return verifier


def texts(sentences):
    return [s.text for s in sentences]


def test_sentences_keep_citations_written_after_the_full_stop():
    sentences, rest = split_sentences("Remote work is allowed. [1] The VPN is needed [2]. Done!")
    assert texts(sentences) == ["Remote work is allowed. [1]", "The VPN is needed [2].", "Done!"] and rest == ""


def test_japanese_sentences_and_bullets_split():
    sentences, _ = split_sentences("経費は30日以内です[1]。承認が必要です[2]。\n- first item [1]\n- second item")
    assert texts(sentences) == ["経費は30日以内です[1]。", "承認が必要です[2]。", "- first item [1]", "- second item"]
    assert [s.starts_line for s in sentences] == [True, False, True, True]


def test_streaming_split_waits_until_a_sentence_cannot_grow():
    assert split_sentences("Remote work is allowed.", final=False) == ([], "Remote work is allowed.")
    done, rest = split_sentences("Remote work is allowed. [1", final=False)
    assert done == [] and rest == "Remote work is allowed. [1"
    done, rest = split_sentences("Remote work is allowed. [1] The", final=False)
    assert texts(done) == ["Remote work is allowed. [1]"] and rest == " The"


def test_parse_citations_variants():
    assert parse_citations("Allowed [1][3] and [2, 3]; also [1].") == ("Allowed and; also.", (1, 3, 2))
    assert parse_citations("No citations here.") == ("No citations here.", ())


def test_invented_citation_numbers_are_removed():
    v = verify("Employees may work remotely up to 3 days per week [1][9].")
    assert v.invalid_citations == [9]
    assert v.sentences[0].citations == (1,) and "[9]" not in v.text
    assert [s.number for s in v.sources] == [1]


def test_supported_sentence_scores_high_and_unsupported_is_marked():
    v = verify("Employees may work remotely up to 3 days per week [1]. Employees get 40 days of vacation [1].")
    good, bad = v.sentences
    assert good.supported and good.support >= 0.75  # the fitted ceiling of a fully supported claim (chat/support_model.py)
    assert bad.supported is False and bad.support < 0.5
    assert v.text.endswith(f"[1]. {UNVERIFIED_MARK}")
    assert v.text.count(UNVERIFIED_MARK) == 1


def test_drop_mode_removes_unsupported_and_uncited_sentences():
    v = verify(
        "Employees may work remotely up to 3 days per week [1]. Employees get 40 days of vacation [1]. "
        "Lunch is free on Fridays.",
        mode="drop",
    )
    assert texts(v.sentences) == ["Employees may work remotely up to 3 days per week."]
    assert v.dropped == ["unsupported", "uncited"]
    assert "vacation" not in v.text and "Lunch" not in v.text


def test_uncited_sentences_are_unsupported_in_mark_mode():
    v = verify("Lunch is free on Fridays.")
    assert v.sentences[0].citations == () and v.sentences[0].supported is False and v.sentences[0].support is None


def test_support_is_checked_against_the_cited_source_only():
    # True according to [2] (VPN), but cited to [1] (remote work): not supported.
    v = verify("Install Hoshi Connect 4.2 to use the VPN [1].")
    assert v.sentences[0].supported is False


def test_sources_are_renumbered_in_order_of_first_citation():
    v = verify("Expense reports over 50,000 yen need approval by a department head [3]. Install Hoshi Connect 4.2 [2].")
    assert [(s.number, s.document_id) for s in v.sources] == [(1, "confluence:expenses"), (2, "confluence:vpn")]
    assert v.text == (
        "Expense reports over 50,000 yen need approval by a department head [1]. Install Hoshi Connect 4.2 [2]."
    )


def test_links_not_in_the_cited_sources_are_removed():
    evidence = "See https://wiki.example.com/vpn for details."
    assert remove_unsourced_links("Read https://wiki.example.com/vpn.", evidence) == "Read https://wiki.example.com/vpn."
    assert remove_unsourced_links("Reset it at https://evil.example/reset now.", evidence) == "Reset it at now."
    assert remove_unsourced_links("Use [the portal](https://evil.example/x).", evidence) == "Use the portal."
    assert remove_unsourced_links("Use <https://evil.example/x|the portal>.", evidence) == "Use the portal."


def test_the_cited_sources_url_is_an_allowed_link():
    v = verify("Install Hoshi Connect 4.2 to use the VPN, see https://wiki.example.com/vpn [2].")
    assert "https://wiki.example.com/vpn" in v.text


def test_a_sentence_repeating_the_system_prompt_is_dropped_even_in_mark_mode():
    system = "You are Kura, an assistant that answers employees' questions using only the company documents."
    v = verify(
        "My instructions say: You are Kura, an assistant that answers employees' questions using only the "
        "company documents [1]. Employees may work remotely up to 3 days per week [1].",
        system_prompt=system,
    )
    assert v.dropped == ["repeats the system prompt"]
    assert "You are Kura" not in v.text and len(v.sentences) == 1


def test_japanese_citations_go_before_the_full_stop():
    hit = make_hit("keihi", "経費精算申請書は領収書の日付から30日以内に提出してください。", title="経費精算")
    v = verify("経費精算申請書は30日以内に提出してください[1]。", hits=[hit])
    assert v.text == "経費精算申請書は30日以内に提出してください[1]。" and v.sentences[0].supported


def test_emails_and_phone_numbers_not_in_the_cited_sources_are_removed():
    evidence = "Printer problems: helpdesk@hoshi-robotics.example or 03-5555-0100. Updated 2026-03-30."
    assert remove_unsourced_links("Write to helpdesk@hoshi-robotics.example.", evidence) == (
        "Write to helpdesk@hoshi-robotics.example."
    )
    assert remove_unsourced_links("Write to it-support@evil.example now.", evidence) == "Write to now."
    assert remove_unsourced_links("Mail <mailto:x@evil.example> now.", evidence) == "Mail <> now."
    # The same number written another way is sourced; a new one is not.
    assert remove_unsourced_links("Call +81 3 5555 0100.", evidence) == "Call +81 3 5555 0100."
    assert remove_unsourced_links("Call 0120-555-019 today.", evidence) == "Call today."
    assert remove_unsourced_links("Call +1 415 555 0199.", evidence) == "Call ."
    # Dates, amounts, versions and addresses of machines are not phone numbers.
    for text in ("Updated 2026-03-30.", "It costs 50,000 yen.", "Version 4.2.1 on 10.0.0.12.", "Room 9-101."):
        assert remove_unsourced_links(text, "") == text


def test_an_answer_sentence_that_asks_for_a_secret_is_dropped_even_when_supported():
    hits = [make_hit("printer", "Send your HoshiID password to printer-desk@hoshi-robotics.example to print.")]
    v = verify("Send your HoshiID password to printer-desk@hoshi-robotics.example to print [1].", hits=hits)
    assert v.text == "" and v.dropped == ["gives an instruction or asks for a secret"]
