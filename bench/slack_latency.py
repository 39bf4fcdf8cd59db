"""Slack bot latency: how fast a signed app_mention is acknowledged, gets its "Searching…" reply, and its answer.

Indexes a few sample-corpus documents into a temporary data directory, serves the
bot's HTTP endpoint on loopback with the Slack Web API pointed at the test fake,
then sends N signed mentions one after another (the Slack limit is 3 s for the
acknowledgement; the placeholder is what the asker sees first). Ends with one JSON line.

    python bench/slack_latency.py [--questions 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import KuraApp  # noqa: E402
from bots.feedback import FeedbackStore  # noqa: E402
from bots.slack.app import build_slack_app  # noqa: E402
from core.settings import Settings  # noqa: E402
from ingest.connectors.sample import SampleConnector  # noqa: E402
from tests.bots.slack.conftest import (  # noqa: E402
    AIKO, SIGNING_SECRET, ListConnector, SlackBotServer, sample_documents,
)
from tests.fakes.fake_slack_web import FakeSlackWeb  # noqa: E402

QUESTIONS = [
    "Who has to approve an expense report over 50,000 yen?",
    "Within how many days must I file an expense?",
    "Which laptop model do data scientists get?",
    "給与バンド表の改定コードは何ですか？",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlackWeb() as slack:
        settings = Settings(_env_file=None, data_dir=Path(tmp), slack_bot_token=slack.token,
                            slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.url)
        kura = KuraApp(settings)
        kura.ingest(ListConnector(sample_documents()))
        sample = SampleConnector()
        kura.record_identities("sample", sample.identities(), sample.slack_aliases())
        kura.embedder.embed_query("warm up")
        slack.add_user(AIKO)
        slack.add_channel("CPUB", members=[AIKO, slack.bot_user_id])
        bolt_app, bot = build_slack_app(kura, settings, mode="http")
        server = SlackBotServer(bolt_app, bot, FeedbackStore.from_settings(settings), kura)
        server.start()
        acks, placeholders, answers = [], [], []
        try:
            for i in range(args.questions):
                started = time.perf_counter()
                response = server.mention("CPUB", AIKO, QUESTIONS[i % len(QUESTIONS)], f"1700000000.{i:06d}")
                acks.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                slack.wait_for("chat.postMessage", i + 1)
                placeholders.append(time.perf_counter() - started)
                slack.wait_for("chat.update", i + 1)
                answers.append(time.perf_counter() - started)
        finally:
            server.stop()
            kura.close()
    figures = {}
    for name, values in (("ack", acks), ("placeholder", placeholders), ("answer", answers)):
        ms = [v * 1000 for v in values]
        figures[name] = {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 0.95), 1),
                         "max_ms": round(max(ms), 1)}
        print(f"{name:12s} p50 {figures[name]['p50_ms']:8.1f} ms   p95 {figures[name]['p95_ms']:8.1f} ms   "
              f"max {figures[name]['max_ms']:8.1f} ms")
    print(json.dumps({"questions": args.questions, **figures}))


if __name__ == "__main__":
    main()
