"""``kura`` end to end, as a user runs it: ingest the sample corpus, ask in English and Japanese, as different people."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.cli import main as cli
from ingest.connectors.sample import SampleConnector

REPO = Path(__file__).resolve().parents[2]
FINANCE = "aiko.tanaka@hoshi-robotics.example"
OUTSIDER = "yuki.sato@hoshi-robotics.example"  # in no finance/hr group, not in the private channel


def kura(*args: str, data_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    full_env.update({"KURA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args], capture_output=True, text=True, env=full_env, cwd=data_dir.parent, timeout=300
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("cli") / "data"
    result = kura("ingest", "--json", data_dir=data)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents_added"] >= 30 and summary["documents_failed"] == 0
    return data


def ask(question: str, *args: str, data_dir: Path) -> dict:
    """`kura ask --json` in this process (the model loads once); the subprocess tests above cover the real entry point."""
    runner = CliRunner()
    result = runner.invoke(cli.app, ["ask", question, "--json", *args], env={"KURA_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def restricted_documents() -> dict[str, tuple[str, ...]]:
    docs = [d for b in SampleConnector().load() for d in b.documents]
    return {d.id: d.principals for d in docs if "public" not in d.principals}


def test_english_and_japanese_questions_get_cited_answers(data_dir):
    for question in ("Who has to approve an expense report over 50,000 yen?", "経費精算申請書はいつまでに提出する必要がありますか？"):
        out = ask(question, data_dir=data_dir)
        assert not out["abstained"], question
        assert out["sources"] and all(s["document_id"] and s["title"] and s["url"] for s in out["sources"])
        numbers = {s["number"] for s in out["sources"]}
        assert all(set(s["citations"]) <= numbers and s["citations"] for s in out["sentences"])


def test_plain_output_lists_numbered_sources(data_dir):
    result = kura("ask", "How do I set up the VPN?", data_dir=data_dir)
    assert result.returncode == 0
    assert "[1]" in result.stdout and "Sources:" in result.stdout


def test_outsider_never_gets_restricted_documents(data_dir):
    restricted = restricted_documents()
    assert restricted  # the sample corpus has restricted documents
    questions = ["給与バンドの改定コードは何ですか？", "What is the salary band for G5 engineers?", "payroll run details",
                 "評価キャリブレーションの結果", "Project Tsubame due diligence"]
    for question in questions:
        out = ask(question, "--as", OUTSIDER, data_dir=data_dir)
        cited = {s["document_id"] for s in out["sources"]}
        assert not cited & set(restricted), question
        assert "KIRIN-26" not in out["answer"]


def test_member_of_the_group_gets_the_restricted_answer(data_dir):
    out = ask("給与バンド表の改定コードは何ですか？", "--as", FINANCE, data_dir=data_dir)
    assert "KIRIN-26" in out["answer"]
    assert any(s["document_id"] == "confluence:CONF-1014" for s in out["sources"])


def test_unanswerable_question_abstains(data_dir):
    out = ask("What is the cafeteria menu on Friday?", data_dir=data_dir)
    assert out["abstained"] and "could not find" in out["answer"], out


def test_clear_errors_and_exit_codes(tmp_path):
    missing = kura("ask", "anything", data_dir=tmp_path / "empty")
    assert missing.returncode == 3 and "kura ingest" in missing.stderr and "Traceback" not in missing.stderr
    bad = kura("ask", "anything", data_dir=tmp_path / "empty", env={"KURA_TOP_K": "zero"})
    assert bad.returncode == 2 and "KURA_TOP_K" in bad.stderr
    assert kura("stats", data_dir=tmp_path / "empty").returncode == 3
