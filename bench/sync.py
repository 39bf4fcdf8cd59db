"""What incremental sync costs: requests per source and chunks embedded, first run vs. no-change run vs. a few edits.

Starts the loopback fake Confluence, Google and Slack servers used by the tests,
fills them with a generated corpus (N pages, N/2 Google Docs, N threads), and
runs ``SyncRunner`` three times into a fresh embedded index with the real
embedder and clients. Ends with one JSON line.

    python bench/sync.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import KuraApp  # noqa: E402
from core.settings import Settings  # noqa: E402
from ingest.connectors.checkpoints import CheckpointStore  # noqa: E402
from ingest.connectors.registry import build_connectors  # noqa: E402
from ingest.sync import SyncRunner  # noqa: E402
from tests.fakes.fake_confluence import FakeConfluence, Page  # noqa: E402
from tests.fakes.fake_google import FOLDER, DriveFile, FakeGoogle, service_account_file  # noqa: E402
from tests.fakes.fake_slack import Channel, FakeSlack  # noqa: E402

PARAGRAPH = ("Section {i}.{j}: the {topic} process requires approval from the {team} lead before the end of "
             "the month; see the checklist below for the documents to attach.")


def fill(confluence: FakeConfluence, google: FakeGoogle, slack: FakeSlack, n: int) -> None:
    confluence.add_user("u1", "aiko@example.com", "Aiko")
    confluence.groups = {"staff": ["u1"]}
    confluence.add_space("ENG", "Engineering", read_groups=["staff"])
    for i in range(n):
        body = "".join(f"<h2>Part {j}</h2><p>{PARAGRAPH.format(i=i, j=j, topic='expense', team='finance')}</p>"
                       f"<ul><li>receipt {j}</li><li>form {j}</li></ul>" for j in range(3))
        confluence.add_page(Page(str(1000 + i), "ENG", f"Page {i}", body, parent="1000" if i else None))
    google.add(DriveFile("root", "Root", [], mime=FOLDER))
    for i in range(n // 2):
        google.add(DriveFile(f"d{i}", f"Doc {i}", ["root"], html=f"<h1>Doc {i}</h1><p>{PARAGRAPH.format(i=i, j=0, topic='travel', team='ops')}</p>",
                             permissions=[{"type": "domain", "domain": "example.com"}]))
    slack.add_user("U1", "Aiko", "aiko@example.com")
    slack.channels["C1"] = Channel("C1", "general", members=["U1"])
    for i in range(n):
        ts = slack.post("C1", "U1", f"Question {i}: where is the {['vpn', 'wiki', 'payroll'][i % 3]} guide?")
        if i % 4 == 0:
            slack.reply("C1", ts, "U1", "Pinned in the channel.")


def endpoint(path: str) -> str:
    """A request path with ids folded, so requests count per endpoint."""
    path = re.sub(r"^/(wiki/rest/api|drive/v3|api|admin/directory/v1)/", "", path)
    return re.sub(r"/(\d+|d\d+)(?=/|$)", "/{id}", path)


def run(settings: Settings, embedder, fakes) -> dict:
    for fake in fakes:
        fake.clear_requests()
    before = embedder.texts_embedded
    started = time.perf_counter()
    with KuraApp(settings, embedder=embedder) as kura:
        checkpoints = CheckpointStore.in_state_dir(settings.state_dir)
        summary = SyncRunner(kura.pipeline(), checkpoints, build_connectors(settings, checkpoints, kura.identity)).run()
    assert summary.ok, summary.to_dict()
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "texts_embedded": embedder.texts_embedded - before,
        "documents": {r.source: r.stats.documents_added + r.stats.documents_updated for r in summary.results},
        "requests": {name: dict(Counter(endpoint(r.path) for r in fake.requests))
                     for name, fake in zip(("confluence", "gdocs", "slack"), fakes)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from retrieval.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    confluence, google, slack = FakeConfluence(page_size=50), FakeGoogle(page_size=100), FakeSlack(page_size=100)
    fill(confluence, google, slack, args.n)
    with confluence, google, slack, tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "sa.json"
        service_account_file(key, f"{google.url}/token", google)  # the fake verifies the JWT against this key
        settings = Settings(
            data_dir=Path(tmp) / "data", confluence_url=f"{confluence.url}/wiki", confluence_username=confluence.username,
            confluence_token=confluence.token, confluence_spaces=["ENG"], google_credentials_file=key,
            google_folder_ids=["root"], google_api_base_url=f"{google.url}/", slack_bot_token=slack.token,
            slack_api_url=f"{slack.url}/api/")
        fakes = (confluence, google, slack)
        first = run(settings, embedder, fakes)
        second = run(settings, embedder, fakes)
        confluence.edit_page("1005", body="<p>Changed.</p>")
        google.edit("d3", "<p>Changed.</p>")
        slack.reply("C1", slack.channels["C1"].messages[-1]["ts"], "U1", "A new reply.")
        edits = run(settings, embedder, fakes)
    for name, figures in (("first sync", first), ("no-change sync", second), ("three edits", edits)):
        print(f"{name}: {figures['seconds']}s, {figures['texts_embedded']} chunks embedded, documents {figures['documents']}")
        for source, requests in figures["requests"].items():
            print(f"    {source}: {sum(requests.values())} requests {requests}")
    print(json.dumps({"n": args.n, "first": first, "no_change": second, "edits": edits}))


if __name__ == "__main__":
    main()
