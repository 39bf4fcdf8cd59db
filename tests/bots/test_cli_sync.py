"""``kura sync`` end to end against the three fake sources, and ``kura ask --as`` honouring permission changes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bots.app import KuraApp
from bots.cli.main import app, main
from tests.fakes.fake_confluence import FakeConfluence
from tests.fakes.fake_google import FakeGoogle, service_account_file
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.seeds import seed_confluence, seed_google, seed_slack


@pytest.fixture
def kura(tmp_path, monkeypatch, embedder):
    """Runs ``kura ...`` in-process with settings from the environment, as cron would, sharing the test embedder."""
    confluence, google, slack = FakeConfluence(), FakeGoogle(), FakeSlack()
    seed_confluence(confluence)
    seed_google(google)
    slack.threads = seed_slack(slack)
    key = tmp_path / "sa.json"
    with confluence, google, slack:
        service_account_file(key, f"{google.url}/token", google)
        env = {
            "KURA_DATA_DIR": str(tmp_path / "data"),
            "KURA_CONFLUENCE_URL": f"{confluence.url}/wiki",
            "KURA_CONFLUENCE_USERNAME": confluence.username,
            "KURA_CONFLUENCE_TOKEN": confluence.token,
            "KURA_CONFLUENCE_SPACES": '["ENG", "HR"]',
            "KURA_GOOGLE_CREDENTIALS_FILE": str(key),
            "KURA_GOOGLE_FOLDER_IDS": '["team"]',
            "KURA_GOOGLE_API_BASE_URL": f"{google.url}/",
            "KURA_SLACK_BOT_TOKEN": slack.token,
            "KURA_SLACK_API_URL": f"{slack.url}/api/",
            "KURA_CONNECTOR_BACKOFF_BASE_S": "0.01",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(KuraApp, "embedder", property(lambda self: embedder))
        runner = CliRunner()

        def run(*args: str):
            result = runner.invoke(app, list(args), catch_exceptions=False)
            return result

        run.fakes = (confluence, google, slack)
        yield run


def sync_summary(run, *args: str) -> dict:
    result = run("sync", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def ask(run, question: str, email: str) -> dict:
    result = run("ask", question, "--as", email, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cited_documents(answer: dict) -> set[str]:
    return {s["document_id"] for s in answer["sources"]}


def test_sync_indexes_all_sources_then_a_second_run_re_embeds_nothing(kura, embedder):
    first = sync_summary(kura)
    assert first["ok"]
    assert {s["source"]: s["documents_added"] for s in first["sources"]} == {"confluence": 6, "gdocs": 3, "slack": 4}
    calls, texts = embedder.calls, embedder.texts_embedded

    second = sync_summary(kura)

    assert [s["chunks_embedded"] for s in second["sources"]] == [0, 0, 0]
    assert (embedder.calls, embedder.texts_embedded) == (calls, texts)


def test_human_summary_and_single_source(kura, monkeypatch, capsys):
    result = kura("sync", "--source", "slack")
    assert result.exit_code == 0, result.output
    assert "slack: 4 added, 0 updated, 0 deleted, 0 failed" in result.stdout
    assert "confluence" not in result.stdout

    monkeypatch.setattr("sys.argv", ["kura", "sync", "--source", "jira"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2  # a configuration error
    assert "unknown source 'jira'; known sources: confluence, gdocs, slack" in capsys.readouterr().err


def test_auth_error_exits_non_zero_with_what_to_fix(kura):
    _, _, slack = kura.fakes
    slack.expired = True

    result = kura("sync")

    assert result.exit_code == 1
    assert "slack stopped" in result.output and "KURA_SLACK_BOT_TOKEN" in result.output
    assert "confluence: 6 added" in result.output


def test_permission_changes_at_the_source_reach_answers(kura):
    confluence, google, slack = kura.fakes
    sync_summary(kura)
    question_drive = "When do we acquire Tanuki Corp?"
    question_confluence = "When do I install the VPN client on my laptop?"
    question_slack = "When is the reorg planned?"
    assert "gdocs:doc-plan" in cited_documents(ask(kura, question_drive, "ben@example.com"))
    assert "confluence:101" in cited_documents(ask(kura, question_confluence, "ben@example.com"))
    layoffs = f"slack:G1:{slack.threads['layoffs']}"
    assert layoffs in cited_documents(ask(kura, question_slack, "ben@example.com"))

    # Ben loses access three ways: unshared in Drive, a Confluence view restriction, removed from a private channel.
    google.share("doc-plan", [{"id": "p3", "type": "user", "emailAddress": "aiko@example.com", "role": "owner"}])
    confluence.pages["101"].read_groups = ["hr-team"]
    slack.channels["G1"].members = ["U1"]
    summary = sync_summary(kura)
    assert {s["source"]: s["chunks_embedded"] > 0 for s in summary["sources"]} == {
        "confluence": True, "gdocs": True, "slack": False}

    for question, doc, secret in [(question_drive, "gdocs:doc-plan", "Tanuki Corp in Q4"),
                                  (question_confluence, "confluence:101", "VPN client before day one"),
                                  (question_slack, layoffs, "reorg is planned")]:
        ben = ask(kura, question, "ben@example.com")
        assert doc not in cited_documents(ben)
        shown = json.dumps({k: v for k, v in ben.items() if k != "question"}, ensure_ascii=False)
        assert secret not in shown
        aiko = ask(kura, question, "aiko@example.com")
        assert doc in cited_documents(aiko)
