"""Slack bot fixtures: a real KuraApp over a small index, the fake Slack Web API, the bot served over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from bots.app import KuraApp
from bots.feedback import FeedbackStore
from bots.slack.app import build_slack_app
from bots.slack.server import EVENTS_PATH, http_app
from core.protocols import SyncBatch
from core.settings import Settings
from core.types import Document, Section
from ingest.connectors.sample import SAMPLE_DIR, SampleConnector
from tests.fakes.fake_slack_web import FakeSlackWeb

SIGNING_SECRET = "test-signing-secret"
WEB_BASE_URL = "https://kura.example.com"

# A few documents of the sample corpus (the whole corpus takes a minute to embed on a 2-core machine).
SAMPLE_FILES = [
    "confluence-expense-reimbursement-policy.md",
    "confluence-salary-bands-fy2026.md",  # group:finance
    "slack-proj-tsubame-due-diligence.md",  # slack:C0PRIV01, the private #proj-tsubame channel
    "gdocs-laptop-policy.md",
]
# Document text that tries to ping everyone and to break the message's formatting.
OUTAGE = Document("confluence", "outage-comms", "Incident communication", (Section(
    "During a major outage, ping @channel and <!here> in the incident channel so everyone sees it. "
    "*Important: outage status updates go out every 30 minutes."),),
    url="https://hoshi-robotics.atlassian.example/wiki/spaces/ENG/pages/9001")

# Slack ids and emails from ingest/sample_corpus/identities.yaml.
AIKO, MARIKO, HARUTO, LENA, YUKI = "U01AIKO", "U01MARIKO", "U01HARUTO", "U01LENA", "U01YUKI"
AIKO_EMAIL = "aiko.tanaka@hoshi-robotics.example"
NEWHIRE = "U0NEWHIRE"  # not in the identity store yet: the email comes from users.info
CHANNEL_CONFIG = """
channels:
  CHELP:
    answer_on_mention_only: false
  CGDOCS:
    allowed_sources: [gdocs]
  COFF:
    enabled: false
"""


class ListConnector:
    name = "test"

    def __init__(self, documents):
        self.documents = documents

    def load(self):
        yield SyncBatch(documents=list(self.documents))

    def poll(self, since):
        return self.load()


class RecordingKura:
    """The real KuraApp, remembering the arguments of each ask (to check history and principals)."""

    def __init__(self, inner: KuraApp) -> None:
        self.inner = inner
        self.asks: list[dict] = []

    @property
    def identity(self):
        return self.inner.identity

    def ask_stream(self, question, **kwargs):
        self.asks.append({"question": question, **kwargs})
        return self.inner.ask_stream(question, **kwargs)


def sample_documents() -> list[Document]:
    return [SampleConnector.read(SAMPLE_DIR / name) for name in SAMPLE_FILES] + [OUTAGE]


@pytest.fixture(scope="session")
def indexed_kura(tmp_path_factory, embedder) -> Iterator[KuraApp]:
    """A real KuraApp over part of the sample corpus, with the sample company's identities and Slack aliases."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("slack-kura"), _env_file=None)
    kura = KuraApp(settings, embedder=embedder)
    kura.ingest(ListConnector(sample_documents()))
    sample = SampleConnector()
    kura.record_identities("sample", sample.identities(), sample.slack_aliases())
    yield kura
    kura.close()


@pytest.fixture
def slack() -> Iterator[FakeSlackWeb]:
    with FakeSlackWeb() as fake:
        for user in (AIKO, MARIKO, HARUTO, LENA, YUKI):
            fake.add_user(user)  # the identity store's slack:<id> alias supplies their email
        fake.add_user(NEWHIRE, email="new.hire@hoshi-robotics.example")
        fake.add_user("UGUEST", email="guest@partner.example", is_restricted=True)
        fake.add_user("UOTHERBOT", is_bot=True)
        bot = fake.bot_user_id
        fake.add_channel("CPUB", members=[AIKO, YUKI, NEWHIRE, bot, "UOTHERBOT"])
        fake.add_channel("CFIN", members=[AIKO, MARIKO, bot, "UOTHERBOT"], is_private=True)
        fake.add_channel("C0PRIV01", members=[AIKO, MARIKO, HARUTO, LENA, bot], is_private=True)
        fake.add_channel("CGUEST", members=[AIKO, "UGUEST", bot])
        fake.add_channel("CSHARED", members=[AIKO, bot], is_ext_shared=True)
        fake.add_channel("DAIKO", members=[AIKO, bot], is_im=True)
        for channel in ("CHELP", "CGDOCS", "COFF"):
            fake.add_channel(channel, members=[AIKO, bot])
        yield fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlackBotServer:
    """The bot's Starlette app served by uvicorn on loopback, plus helpers to send signed Slack requests."""

    def __init__(self, bolt_app, bot, feedback: FeedbackStore, kura: RecordingKura) -> None:
        self.bot = bot
        self.feedback = feedback
        self.kura = kura
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(http_app(bolt_app), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._events = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the Slack bot's HTTP server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def post(self, body: str, content_type: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET,
             headers: dict[str, str] | None = None):
        timestamp = int(time.time()) if timestamp is None else timestamp
        base = f"v0:{timestamp}:{body}".encode()
        signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp),
                   "X-Slack-Signature": signature, **(headers or {})}
        return httpx.post(self.url + EVENTS_PATH, content=body, headers=headers, timeout=10)

    def event(self, event: dict, *, event_id: str | None = None, retry_num: int | None = None, **kwargs):
        """Deliver an event; ``retry_num`` redelivers ``event_id`` as Slack does (X-Slack-Retry-Num/-Reason)."""
        if event_id is None:
            self._events += 1
            event_id = f"Ev{self._events:04d}"
        self.last_event_id = event_id
        body = json.dumps({"token": "unused", "team_id": "T0001", "api_app_id": "AKURA", "type": "event_callback",
                           "event_id": event_id, "event_time": int(time.time()), "event": event})
        retry = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.post(body, "application/json", headers=retry, **kwargs)

    def mention(self, channel: str, user: str, text: str, ts: str, thread_ts: str | None = None, **kwargs):
        event = {"type": "app_mention", "user": user, "text": f"<@UKURA> {text}", "ts": ts, "channel": channel,
                 "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **kwargs)

    def interaction(self, payload: dict, **kwargs):
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kwargs)


@pytest.fixture
def start_bot(slack, tmp_path):
    """Starts the bot over any KuraApp-like object; stopped at the end of the test."""
    config = tmp_path / "channels.yaml"
    config.write_text(CHANNEL_CONFIG, encoding="utf-8")
    base = dict(
        _env_file=None,
        data_dir=tmp_path / "data",
        slack_bot_token=slack.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
        slack_channel_config=config,
        web_base_url=WEB_BASE_URL,
        # No in-progress updates unless a test asks for them: on a loaded machine an answer can take over a second,
        # and tests read the first chat.update as the answer.
        slack_stream_update_s=60,
    )
    servers = []

    def start(kura, **overrides) -> SlackBotServer:
        settings = Settings(**{**base, **overrides})
        feedback = FeedbackStore.from_settings(settings)
        bolt_app, bot = build_slack_app(kura, settings, mode="http", feedback=feedback)
        server = SlackBotServer(bolt_app, bot, feedback, kura)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def bot_server(indexed_kura, start_bot) -> SlackBotServer:
    return start_bot(RecordingKura(indexed_kura))


def posted_json(slack: FakeSlackWeb) -> str:
    """Everything the bot sent to Slack, as one string, for checks that must hold everywhere."""
    sent = [c.params for c in slack.calls if c.method.startswith("chat.") or c.method == "views.open"]
    return json.dumps(sent, ensure_ascii=False)
