"""A real KuraApp over a small index (public, restricted and Japanese documents) for the web chat's tests.

The index is built once per session through the real pipeline with the shared
embedder; each test gets its own app with fresh conversation and feedback
stores, so tests do not see each other's conversations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from bots.app import KuraApp
from bots.feedback import FeedbackStore
from bots.web.app import create_app
from bots.web.conversations import ConversationStore
from core.protocols import SyncBatch
from core.settings import Settings
from core.types import Document, Section

ALICE = "alice@example.com"  # in group:finance: may read the salary bands
BOB = "bob@example.com"  # public documents only
CAROL = "carol@example.com"  # also in group:finance

EXPENSES = Document(
    "confluence", "100", "Expense policy",
    (Section("Expense reports over 50,000 yen must be approved by the department head. "
             "Submit receipts in the Expenses app within 30 days of the purchase.", ("Approvals",)),),
    url="https://wiki.example.com/pages/100",
)
SALARIES = Document(
    "confluence", "200", "Salary bands 2026",
    (Section("The salary band for senior engineers is 9 to 12 million yen per year. "
             "Bands are reviewed every April by the compensation committee."),),
    url="https://wiki.example.com/pages/200",
    principals=("group:finance",),
)
LEAVE_JA = Document(
    "gdocs", "300", "休暇申請の手順",
    (Section("年次有給休暇は人事システムから申請してください。申請は取得日の三日前までに行います。"),),
    url="https://docs.example.com/document/d/300",
)
RELEASE = Document(
    "slack", "C1:1700000000.1", "Release notes <b>v2</b>",
    (Section("The release train leaves every Thursday. <script>alert('x')</script> Hotfixes ship any day."),),
    url="https://example.slack.com/archives/C1/p1700000000000100",
)
DOCUMENTS = (EXPENSES, SALARIES, LEAVE_JA, RELEASE)


class ListConnector:
    """A connector over fixed documents (the pipeline under it is the real one)."""

    name = "test"

    def __init__(self, documents) -> None:
        self.documents = list(documents)

    def load(self):
        yield SyncBatch(documents=list(self.documents))

    def poll(self, since):
        return self.load()


def clean_settings(**values) -> Settings:
    """Settings from these values only: no KURA_* variables or .env of the machine running the tests."""
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("KURA_")]:
            mp.delenv(key)
        return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def web_kura(tmp_path_factory, embedder):
    settings = clean_settings(data_dir=tmp_path_factory.mktemp("web-data"))
    kura = KuraApp(settings, embedder=embedder)
    kura.ingest(ListConnector(DOCUMENTS))
    kura.record_identities("test", {ALICE: ["group:finance"], CAROL: ["group:finance"]})
    yield kura
    kura.close()


@dataclass
class WebApp:
    """An app over the shared index with its own stores."""

    app: object
    settings: Settings
    feedback: FeedbackStore
    conversations: ConversationStore


@pytest.fixture
def make_web(web_kura, tmp_path):
    """Builds an app: ``make_web()`` trusts X-Forwarded-Email; ``make_web(web_auth_header=None)`` uses local login."""

    def make(**overrides) -> WebApp:
        values = {"data_dir": web_kura.settings.data_dir, "web_auth_header": "X-Forwarded-Email",
                  "web_session_secret": "test-secret", "web_base_url": "http://kura.test"}
        values.update(overrides)
        settings = clean_settings(**values)
        feedback = FeedbackStore(tmp_path / "feedback.sqlite")
        conversations = ConversationStore(tmp_path / "conversations.sqlite")
        app = create_app(web_kura, settings, feedback=feedback, conversations=conversations)
        return WebApp(app, settings, feedback, conversations)

    return make


def as_user(email: str) -> dict[str, str]:
    return {"X-Forwarded-Email": email}
