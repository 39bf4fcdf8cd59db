"""A real KuraApp over a small index for the web chat's tests: a few sample-corpus documents (public, restricted,
English, Japanese) and one with markup in it.

The index is built once per session through the real pipeline with the shared
embedder; each test gets its own app with fresh conversation and feedback
stores, so tests do not see each other's conversations.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass

import pytest

from bots.app import KuraApp
from bots.feedback import FeedbackStore
from bots.web.app import create_app
from bots.web.conversations import ConversationStore
from core.protocols import SyncBatch
from core.settings import Settings
from core.types import Document, Section
from ingest.connectors.sample import SAMPLE_DIR, SampleConnector

# People of the sample corpus (ingest/sample_corpus/identities.yaml).
ALICE = "aiko.tanaka@hoshi-robotics.example"  # finance: may read the salary bands
BOB = "daichi.yamamoto@hoshi-robotics.example"  # in no group: public documents only
CAROL = "mariko.ishida@hoshi-robotics.example"  # finance too

SAMPLE_FILES = (
    "confluence-expense-reimbursement-policy.md",  # English, public
    "confluence-keihi-seisan-tejun.md",  # Japanese, public
    "confluence-salary-bands-fy2026.md",  # Japanese, group:finance only
)
EXPENSES_ID = "confluence:CONF-1001"
KEIHI_ID = "confluence:CONF-1010"
SALARIES_ID = "confluence:CONF-1014"

# Not in the sample corpus: a public document whose title and text carry markup, to check escaping.
MARKUP = Document(
    "slack", "C1-1700000000.000100", "Release notes <b>v2</b>",
    (Section("The release train leaves every Thursday. <script>alert('x')</script> Hotfixes ship any day."),),
    url="https://hoshi-robotics.slack.example/archives/C1/p1700000000000100",
)


def documents() -> list[Document]:
    return [SampleConnector.read(SAMPLE_DIR / name) for name in SAMPLE_FILES] + [MARKUP]


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
    kura.ingest(ListConnector(documents()))
    sample = SampleConnector()
    kura.record_identities("sample", sample.identities(), sample.slack_aliases())
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


class ServerThread:
    """uvicorn serving an app on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
