"""`kura sync` against the fake sources, then the serving processes' /metrics: per-source job counters moved."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from bots.app import KuraApp
from bots.slack.server import http_app
from bots.web.app import create_app
from core.settings import load_settings

from tests.bots.metrics_scrape import moved, parse_metrics, value
from tests.bots.test_cli_sync import kura, sync_summary  # noqa: F401 - the fixture with the three fake sources


def scrape_web(settings) -> dict:
    client = TestClient(create_app(KuraApp(settings), settings))
    return parse_metrics(client.get("/metrics").text)


def scrape_slack(settings) -> dict:
    transport = httpx.ASGITransport(app=http_app(None, state_dir=settings.state_dir))

    async def get():
        async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as client:
            return (await client.get("/metrics")).text

    import asyncio

    return parse_metrics(asyncio.run(get()))


def test_sync_figures_reach_metrics_per_source(kura):  # noqa: F811
    settings = load_settings()
    before = scrape_web(settings)
    first = sync_summary(kura)
    confluence, google, slack = kura.fakes
    slack.expired = True  # the second run: Slack fails as a whole, the others sync (nothing changed)
    second = kura("sync", "--json")
    assert second.exit_code == 1

    for scrape in (scrape_web, scrape_slack):
        after = scrape(settings)
        for source in first["sources"]:
            name = source["source"]
            for change in ("added", "updated", "deleted", "failed"):
                assert moved(after, before, "kura_job_documents_total", job="sync", source=name,
                             change=change) == source[f"documents_{change}"]
        assert value(after, "kura_job_documents_total", job="sync", source="confluence", change="added") == 6
        assert value(after, "kura_job_last_success_timestamp_seconds", job="sync", source="confluence") > 0
        # Slack's last success is the first run's; its last run is the failed second one.
        slack_success = value(after, "kura_job_last_success_timestamp_seconds", job="sync", source="slack")
        slack_run = value(after, "kura_job_last_run_timestamp_seconds", job="sync", source="slack")
        assert 0 < slack_success < slack_run
