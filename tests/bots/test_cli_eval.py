"""``kura eval`` as a user runs it: run, report, compare, scorer, and the errors they print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.eval.conftest import TINY_SQUAD, write_json

REPO = Path(__file__).resolve().parents[2]


def kura(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    env.update({"KURA_DATA_DIR": str(cwd / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", "eval", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("cli-eval")
    write_json(work / "tiny.json", TINY_SQUAD)
    result = kura("run", "--dataset", "tiny.json", "--strategies", "tokens", "--retrievers", "bm25,hybrid", "--out", "out", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "recall@5" in result.stdout and "wrote" in result.stdout
    (work / "out" / "stderr.txt").write_text(result.stderr, encoding="utf-8")
    return work / "out"


def test_run_writes_results_and_reports(run_dir):
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert [(r["strategy"], r["retriever"]) for r in results["runs"]] == [("tokens", "bm25"), ("tokens", "hybrid")]
    assert results["command"].startswith("kura eval run --dataset tiny.json")
    assert (run_dir / "report.md").exists() and (run_dir / "report.html").exists()
    # without a terminal, progress goes to stderr as plain lines
    assert "eval: tokens x bm25 4/4" in (run_dir / "stderr.txt").read_text(encoding="utf-8")


def test_compare_a_run_with_itself_shows_no_significant_change(run_dir):
    result = kura("compare", str(run_dir), str(run_dir), "--samples", "200", "--out", "cmp.md", cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    assert "| tokens × bm25 × extractive | recall@5 |" in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("|") and " * |" in line]  # nothing significant
    assert (run_dir.parent / "cmp.md").read_text(encoding="utf-8") == result.stdout.rstrip("\n") + "\n"


def test_report_rebuilds_from_results(run_dir):
    (run_dir / "report.html").unlink()
    result = kura("report", str(run_dir), cwd=run_dir.parent)
    assert result.returncode == 0 and (run_dir / "report.html").exists()


def test_scorer_prints_held_out_figures(tmp_path):
    rows = [{"sentence1": "A cat sleeps on the red sofa.", "sentence2": "A cat sleeps on the sofa.", "label": "entailment"},
            {"sentence1": "A cat sleeps on the red sofa.", "sentence2": "A dog barks at the mailman.", "label": "neutral"},
            {"sentence1": "A man rides a bike.", "sentence2": "A man rides a bike.", "label": "entailment"},
            {"sentence1": "A man rides a bike.", "sentence2": "A woman swims in a lake.", "label": "contradiction"}] * 5  # fmt: skip
    (tmp_path / "nli.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = kura("scorer", "--nli", "nli.jsonl", "--out", "sc", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "held-out pairs: balanced accuracy 1.000" in result.stdout and "AUROC 1.000" in result.stdout
    saved = json.loads((tmp_path / "sc" / "results.json").read_text(encoding="utf-8"))
    assert saved["auroc"] == 1.0 and saved["held_out"]["pairs"] + saved["fit"]["pairs"] == 20


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "--dataset", "missing.json", "--out", "o"), "kura: dataset not found: missing.json"),
        (("compare", "nowhere", "nowhere"), "kura: no results at nowhere: run `kura eval run --out DIR` first"),
        (("scorer", "--nli", "missing.jsonl", "--out", "o"), "kura: NLI file not found"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(tmp_path, args, message):
    result = kura(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
