"""`kura ask` and KuraApp with the LLM answerer: endpoint configured, endpoint down, override, follow-ups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.app import KuraApp, files_connector
from bots.cli.main import app as cli
from core.errors import ConfigError
from core.settings import Settings
from tests.fakes.fake_openai import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]
DOCS = {
    "remote-work.md": "# Remote work policy\n\nEmployees may work remotely up to 3 days per week. Remote work "
    "requests go to your manager in Workday at least 5 business days in advance.\n",
    "vpn.md": "# VPN setup\n\nInstall Hoshi Connect 4.2 to use the VPN. Sign in with your SSO account.\n",
    "vacation.md": "# Vacation\n\nEmployees in Germany get 30 vacation days per year. Employees in Japan get 20 "
    "vacation days per year.\n",
}
QUESTION = "How many days per week can employees work remotely?"
GOOD = "Employees may work remotely up to 3 days per week [1]."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder) -> Path:
    """An index of three small documents, built once for the module."""
    root = tmp_path_factory.mktemp("kura")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    with KuraApp(Settings(data_dir=root / "data"), embedder=embedder) as kura:
        kura.ingest(files_connector(docs))
    return root / "data"


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def settings_for(data_dir: Path, fake: FakeOpenAI | None = None, **extra) -> Settings:
    values = {"data_dir": data_dir, "llm_timeout_s": 1.0, "llm_max_retries": 0, **extra}
    if fake is not None:
        values.update(llm_base_url=fake.base_url, llm_api_key=fake.api_key)
    return Settings(**values)


def env_for(data_dir: Path, fake: FakeOpenAI | None, monkeypatch) -> None:
    monkeypatch.setenv("KURA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KURA_LLM_TIMEOUT_S", "1")
    monkeypatch.setenv("KURA_LLM_MAX_RETRIES", "0")
    if fake is not None:
        monkeypatch.setenv("KURA_LLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("KURA_LLM_API_KEY", fake.api_key)


# --- KuraApp ---------------------------------------------------------------------------------


def test_the_llm_answers_when_an_endpoint_is_configured(data_dir, fake, embedder):
    fake.script(GOOD)
    with KuraApp(settings_for(data_dir, fake), embedder=embedder) as kura:
        answer = kura.ask(QUESTION, principals=["public"])
    assert answer.answerer == "llm" and answer.text == GOOD and "retrieve" in answer.timings_ms
    assert "Remote work policy" in fake.completion_requests[0]["messages"][1]["content"]


def test_extractive_without_an_endpoint_and_llm_override_needs_one(data_dir, embedder):
    with KuraApp(settings_for(data_dir), embedder=embedder) as kura:
        assert kura.ask(QUESTION, principals=["public"]).answerer == "extractive"
        with pytest.raises(ConfigError, match="KURA_LLM_BASE_URL"):
            kura.ask(QUESTION, principals=["public"], answerer="llm")


def test_a_follow_up_is_rewritten_before_retrieval(data_dir, fake, embedder):
    fake.script("vacation days for employees in Japan", "Employees in Japan get 20 vacation days per year [1].")
    history = [("user", "How many vacation days do employees in Germany get?"), ("assistant", "30 days [1].")]
    with KuraApp(settings_for(data_dir, fake), embedder=embedder) as kura:
        answer = kura.ask("What about Japan?", principals=["public"], history=history)
    rewrite_request, answer_request = fake.completion_requests
    assert "Follow-up question: What about Japan?" in rewrite_request["messages"][1]["content"]
    assert answer.retrieved[0].chunk.title == "Vacation"  # found through the rewritten query
    assert answer.text == "Employees in Japan get 20 vacation days per year [1]." and "rewrite" in answer.timings_ms


def test_a_follow_up_without_an_llm_uses_key_terms(data_dir, embedder):
    history = [("user", "How many vacation days do employees in Germany get?")]
    with KuraApp(settings_for(data_dir), embedder=embedder) as kura:
        answer = kura.ask("And in Japan?", principals=["public"], history=history)
    assert answer.answerer == "extractive" and "20 vacation days" in answer.text


def test_ask_stream_yields_text_then_the_answer(data_dir, fake, embedder):
    fake.script(GOOD)
    with KuraApp(settings_for(data_dir, fake), embedder=embedder) as kura:
        *deltas, final = kura.ask_stream(QUESTION, principals=["public"])
    assert deltas == [GOOD] and final.text == GOOD and "retrieve" in final.timings_ms


# --- kura ask --------------------------------------------------------------------------------


def test_cli_uses_the_llm_when_configured_and_extractive_on_request(data_dir, fake, monkeypatch):
    env_for(data_dir, fake, monkeypatch)
    fake.script(GOOD)
    result = CliRunner().invoke(cli, ["ask", QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answerer"] == "llm"
    result = CliRunner().invoke(cli, ["ask", QUESTION, "--json", "--answerer", "extractive"])
    assert json.loads(result.output)["answerer"] == "extractive"
    assert len(fake.completion_requests) == 1  # the override made no LLM call


def test_cli_rejects_an_unknown_answerer(data_dir, monkeypatch):
    env_for(data_dir, None, monkeypatch)
    result = CliRunner().invoke(cli, ["ask", QUESTION, "--answerer", "gpt"])
    assert result.exit_code != 0 and "--answerer" in result.output


def test_cli_with_the_endpoint_down_answers_extractively_and_exits_0(data_dir, fake, tmp_path):
    """The done-when check, as a user runs it: a real `kura ask` process, the LLM endpoint stopped."""
    fake.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        KURA_DATA_DIR=str(data_dir),
        KURA_LLM_BASE_URL=fake.base_url,
        KURA_LLM_API_KEY=fake.api_key,
        KURA_LLM_MAX_RETRIES="1",
        KURA_LLM_TIMEOUT_S="1",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bots.cli", "ask", QUESTION],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Employees may work remotely up to 3 days per week. [1]" in proc.stdout
    assert "The LLM was unavailable (could not connect" in proc.stdout
    assert "[1] Remote work policy" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_follow_up_with_the_endpoint_down_still_answers(data_dir, fake, embedder):
    """The rewrite fails over to key terms without retrying, the answer falls back to extractive."""
    history = [("user", "How many vacation days do employees in Germany get?")]
    settings = settings_for(data_dir, fake, llm_max_retries=2)
    fake.stop()
    with KuraApp(settings, embedder=embedder) as kura:
        answer = kura.ask("And in Japan?", principals=["public"], history=history)
    assert answer.answerer == "extractive" and "20 vacation days" in answer.text
    assert "The LLM was unavailable" in answer.notice
