"""Shared pieces for chat tests: chunk builders, the fake OpenAI server and settings pointing at it."""

from __future__ import annotations

import pytest

from core.settings import Settings
from core.types import Chunk, ScoredChunk
from tests.fakes.fake_openai import FakeOpenAI


def make_hit(
    doc: str,
    text: str,
    *,
    ordinal: int = 0,
    title: str = "Policy",
    url: str | None = None,
    score: float = 1.0,
    start_char: int = -1,
) -> ScoredChunk:
    chunk = Chunk(
        document_id=f"confluence:{doc}",
        ordinal=ordinal,
        text=text,
        index_text=text,
        heading_path=(title,),
        token_count=len(text.split()),
        strategy="tokens",
        principals=("public",),
        title=title,
        url=url if url is not None else f"https://wiki.example.com/{doc}",
        source="confluence",
        start_char=start_char,
    )
    return ScoredChunk(chunk, score)


REMOTE = make_hit(
    "remote",
    "Employees may work remotely up to 3 days per week. Remote work requests go to your manager in Workday "
    "at least 5 business days in advance.",
    title="Remote work policy",
)
VPN = make_hit(
    "vpn",
    "Install Hoshi Connect 4.2 to use the VPN. Sign in with your SSO account. The VPN is required for the "
    "finance systems.",
    title="VPN setup",
)
EXPENSES = make_hit(
    "expenses",
    "Expense reports over 50,000 yen need approval by a department head. Receipts are scanned in the app.",
    title="Expense policy",
)
CORPUS = [REMOTE, VPN, EXPENSES]


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def llm_settings(fake: FakeOpenAI, **overrides) -> Settings:
    values = {
        "llm_base_url": fake.base_url,
        "llm_api_key": fake.api_key,
        "llm_model": "fake-gpt",
        "llm_timeout_s": 1.0,
        "llm_max_retries": 1,
        **overrides,
    }
    return Settings(**values)
