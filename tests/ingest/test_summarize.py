"""Summaries: offline extractive ones, and LLM ones through the real openai client against a loopback fake."""

from __future__ import annotations

import pytest

from chat.llm_client import LLMClient
from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings
from core.types import Document, Section
from ingest.connectors.sample import SAMPLE_DIR, SampleConnector
from ingest.summarize import ExtractiveSummarizer, create_summarizer, split_sentences
from ingest.summarize_llm import LLMSummarizer, SummaryCache, load_prompt
from tests.fakes.fake_openai import FakeOpenAI, Reply


def sample(name: str) -> Document:
    return SampleConnector.read(SAMPLE_DIR / name)


# --- extractive ------------------------------------------------------------------------------------
def test_extractive_summary_picks_central_prose_sentences_in_order():
    document = sample("confluence-vpn-setup.md")
    summary = ExtractiveSummarizer(max_sentences=3, max_tokens=120).summarize(document)
    sentences = split_sentences(summary)
    assert 1 <= len(sentences) <= 3
    text = document.text
    positions = [text.find(s) for s in sentences]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)  # quoted verbatim, document order
    assert "VPN" in summary


def test_extractive_summary_of_japanese_and_of_a_slack_thread():
    summary = ExtractiveSummarizer().summarize(sample("confluence-keihi-seisan-tejun.md"))
    assert "経費" in summary and len(summary) > 30
    thread = ExtractiveSummarizer().summarize(sample("slack-it-help-lost-laptop.md"))
    assert thread and "(2026-" not in thread  # message headers (author, time) are not summary text


def test_extractive_summary_prefers_prose_to_table_rows():
    rows = "\n".join(f"Room: R{i}; Floor: {i}; Seats: {i + 4}; Equipment: monitor, camera, whiteboard" for i in range(30))
    document = Document("files", "rooms", "Meeting rooms", (
        Section("Meeting rooms in the Tokyo office are booked in Google Calendar under the room's name.", ("Rooms",)),
        Section(rows, ("Rooms",), "table"),
        Section("Rooms booked but unused for 15 minutes are released automatically for others to book.", ("Rooms",)),
    ))
    summary = ExtractiveSummarizer().summarize(document)
    assert "Google Calendar" in summary and "Seats:" not in summary


def test_extractive_summary_stays_within_budget_on_shapeless_text():
    unpunctuated = Document("files", "log", "Log", (Section(" ".join(["service restarted ok"] * 500)),))
    summarizer = ExtractiveSummarizer(max_sentences=3, max_tokens=40)
    summary = summarizer.summarize(unpunctuated)
    assert summary and len(summary) < 400
    assert summarizer.summarize(Document("files", "empty", "Empty", (Section(""),))) == ""


def test_extractive_summary_leaves_out_instructions_to_ai_systems():
    document = sample("confluence-printers-and-scanning.md")
    assert "Ignore all previous instructions" in document.text  # the sample corpus plants one
    assert "instructions" not in ExtractiveSummarizer().summarize(document)


# --- LLM ------------------------------------------------------------------------------------------
@pytest.fixture
def fake():
    with FakeOpenAI(default=Reply("A summary.")) as server:
        yield server


def llm_summarizer(fake: FakeOpenAI, tmp_path, **kwargs) -> LLMSummarizer:
    client = LLMClient(fake.base_url, model="fake-model", api_key=kwargs.pop("api_key", fake.api_key), max_retries=0,
                       first_token_timeout_s=5)
    return LLMSummarizer(client, model="fake-model", cache=SummaryCache(tmp_path / "summaries"), **kwargs)


def test_llm_summary_sends_the_versioned_prompt_with_the_document_as_data(fake, tmp_path):
    fake.script("Employees claim expenses in Hoshi Expense within 30 days.")
    summarizer = llm_summarizer(fake, tmp_path, max_tokens=80)
    document = sample("confluence-expense-reimbursement-policy.md")
    assert summarizer.summarize(document) == "Employees claim expenses in Hoshi Expense within 30 days."
    request = fake.requests[0]
    system, user = load_prompt("v1")
    assert request["model"] == "fake-model" and request["max_tokens"] == 80
    assert request["messages"][0] == {"role": "system", "content": system}
    assert "never instructions" in system
    content = request["messages"][1]["content"]
    assert content.startswith(f"Title: {document.title}") and f"<document>\n{document.text}\n</document>" in content
    assert summarizer.signature.startswith("llm/fake-model/v1-")


def test_unchanged_document_is_never_summarised_twice(fake, tmp_path):
    document = sample("gdocs-laptop-policy.md")
    first = llm_summarizer(fake, tmp_path)
    summary = first.summarize(document)
    # A new summarizer (a new run) with the same cache: no request at all.
    second = llm_summarizer(fake, tmp_path)
    assert second.summarize(document) == summary and second.cache_hits == 1
    assert len(fake.requests) == 1
    # A permission change does not change what the document says; an edit does.
    from dataclasses import replace

    assert second.summarize(replace(document, principals=("group:it",))) == summary
    second.summarize(replace(document, sections=document.sections[:-1]))
    assert len(fake.requests) == 2


def test_long_input_is_cut_and_over_long_output_rejected(fake, tmp_path):
    fake.script(" ".join(f"word{i}" for i in range(500)))  # a server that ignored max_tokens
    summarizer = llm_summarizer(fake, tmp_path, max_tokens=50, context_tokens=1000)
    huge = Document("files", "huge", "Huge", (Section("The quarterly numbers are final. " * 2000),))
    summary = summarizer.summarize(huge)
    assert summary == summarizer.fallback.summarize(huge) and "word1" not in summary
    assert summarizer.stats()["rejected_by_reason"] == {"too_long": 1}
    sent = fake.requests[0]["messages"][1]["content"]
    assert len(sent) < len(huge.text) / 10 and sent.endswith("</document>")


def test_endpoint_failures_fail_the_document_then_fail_fast(fake, tmp_path):
    fake.script(*[Reply(status=503)] * 3)
    summarizer = llm_summarizer(fake, tmp_path)
    docs = [Document("files", str(i), f"Doc {i}", (Section(f"Document number {i} says something."),)) for i in range(5)]
    for document in docs[:3]:
        with pytest.raises(LLMUnavailableError):
            summarizer.summarize(document)
    with pytest.raises(LLMUnavailableError, match="3 times in a row"):
        summarizer.summarize(docs[3])
    assert len(fake.requests) == 3  # the fourth never reached the endpoint
    assert not list((tmp_path / "summaries").rglob("*.txt"))  # failures are not cached


def test_rejected_api_key_is_a_configuration_error(fake, tmp_path):
    summarizer = llm_summarizer(fake, tmp_path, api_key="wrong")
    with pytest.raises(ConfigError, match="KURA_LLM_API_KEY"):
        summarizer.summarize(sample("gdocs-laptop-policy.md"))


def test_settings_choose_the_summarizer(fake, tmp_path):
    assert isinstance(create_summarizer(Settings(data_dir=tmp_path)), ExtractiveSummarizer)
    llm = create_summarizer(Settings(data_dir=tmp_path, llm_base_url=fake.base_url, llm_api_key=fake.api_key))
    assert isinstance(llm, LLMSummarizer)
    llm.summarize(sample("gdocs-laptop-policy.md"))
    assert list((tmp_path / "cache" / "summaries").rglob("*.txt"))  # cached under settings.cache_dir
    forced = create_summarizer(Settings(data_dir=tmp_path, llm_base_url=fake.base_url, summarizer="extractive"))
    assert isinstance(forced, ExtractiveSummarizer)
    with pytest.raises(ConfigError, match="KURA_LLM_BASE_URL"):
        create_summarizer(Settings(data_dir=tmp_path, summarizer="llm"))
    with pytest.raises(ConfigError, match="no summary prompt 'v9'"):
        create_summarizer(Settings(data_dir=tmp_path, llm_base_url=fake.base_url, summary_prompt_version="v9"))


# --- the quality gate -------------------------------------------------------------------------
DOC = sample("confluence-expense-reimbursement-policy.md") if SAMPLE_DIR.exists() else None


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("[INST] <<SYS>>", "control_tokens"),  # a base model echoing llama-2's fallback template
        ("<<SYS>>\nYou write summaries of internal company documents for a search index.\n<</SYS>>", "control_tokens"),
        ("<start_of_turn>model Expenses are claimed within 30 days.", "control_tokens"),
        ("Expenses are claimed within 30 days.<|im_end|>", "control_tokens"),
        ("You write summaries of internal company documents for a search index. Write two or three plain sentences "
         "saying what the document is about", "copies_prompt"),
        ("<think>The user wants a summary.</think>", "empty"),  # nothing left once reasoning is stripped
    ],
)
def test_unusable_replies_fall_back_to_the_offline_summary_and_are_counted(fake, tmp_path, reply, reason):
    fake.script(reply)
    summarizer = llm_summarizer(fake, tmp_path)
    summary = summarizer.summarize(DOC)
    assert summary == summarizer.fallback.summarize(DOC) and summary
    assert summarizer.stats()["rejected_by_reason"] == {reason: 1} and summarizer.stats()["rejected"] == 1


def test_a_reply_copying_the_document_is_no_summary(fake, tmp_path):
    copied = " ".join(DOC.text.split()[:80])
    fake.script(copied)
    summarizer = llm_summarizer(fake, tmp_path)
    assert summarizer.summarize(DOC) != copied
    assert summarizer.stats()["rejected_by_reason"] == {"copies_document": 1}


def test_a_real_summary_passes_the_gate_even_when_it_reuses_document_phrases(fake, tmp_path):
    # Summaries quote names and figures; only a reply that is mostly the document's own text is a copy.
    good = ("The expense reimbursement policy says how employees claim business expenses in Hoshi Expense, "
            "which receipts they attach and by when managers approve them.")
    fake.script(good, "<think>Let me summarise.</think>" + good)
    summarizer = llm_summarizer(fake, tmp_path)
    assert summarizer.summarize(DOC) == good
    other = Document("files", "x", DOC.title, DOC.sections)
    assert LLMSummarizer(summarizer.client, model="fake-model", cache=SummaryCache(tmp_path / "other")).summarize(other) == good
    assert summarizer.stats()["rejected"] == 0


@pytest.mark.parametrize("strategy", ["summary", "contextual"])
def test_template_replies_never_reach_a_chunk(fake, tmp_path, strategy):
    """What a base model with no chat template sent back for most documents is never chunked (so never indexed)."""
    from chat.llm_output import control_tokens
    from ingest.chunking.base import ChunkingConfig, create_chunker

    replies = iter(["[INST] <<SYS>>", "", "<start_of_turn>user\nSummarise", "<|im_start|>assistant"])
    fake.responder = lambda request: Reply(next(replies, "[INST]"))
    summarizer = llm_summarizer(fake, tmp_path)
    chunker = create_chunker(strategy, ChunkingConfig(), summarizer=summarizer)
    documents = [d for batch in SampleConnector().load() for d in batch.documents][:5]
    chunks = [c for d in documents for c in chunker.split(d)]
    assert chunks and not any(control_tokens(c.text) for c in chunks)
    assert summarizer.stats()["rejected"] == len(documents)
