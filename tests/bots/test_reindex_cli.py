"""``kura reindex`` as cron runs it: real processes, killed midway, run twice at once, queried while it rebuilds."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bots.app import KuraApp
from core.settings import Settings
from ingest.generations import EdgeGenerations

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(tempfile.mkdtemp(prefix="kura-reindex-corpus-")) / "docs"
EXIT_LOCKED = 75


TOPICS = [
    ("Expense reports", "Expense reports over 50,000 yen need the department head's approval before payment."),
    ("VPN", "Connect with Hoshi Connect before you open the intranet from a hotel or a café."),
    ("Badges", "Contractors return their badge to reception on the last day of their contract."),
    ("Printers", "Print to Hoshi-SecurePrint and release the job at any printer with your office badge."),
    ("Parental leave", "Parents take up to 12 weeks of paid leave within the first year after a birth."),
    ("On-call", "The on-call engineer acknowledges a page within 15 minutes, day or night."),
    ("経費精算", "経費精算申請書は領収書の日付から30日以内に提出してください。"),
    ("入館", "来客は前日17時までに来客登録システムに登録してください。"),
]


def write_corpus(folder: Path) -> None:
    """A small corpus of Markdown pages (a few chunks each) for `kura reindex` to index from KURA_INGEST_PATHS."""
    folder.mkdir(parents=True)
    for i, (title, sentence) in enumerate(TOPICS):
        body = "\n\n".join(f"## Part {p}\n\n" + f"{sentence} " * 6 for p in range(1, 5))
        (folder / f"page-{i}.md").write_text(f"# {title}\n\n{body}\n", encoding="utf-8")


def kura_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    # Every copy of the data dir indexes the one corpus folder (file paths are document ids).
    env.update({"KURA_DATA_DIR": str(data_dir), "KURA_PROGRESS_INTERVAL_S": "0", "KURA_INDEX_EMBED_BATCH": "4",
                "KURA_INGEST_PATHS": json.dumps([str(CORPUS)]),
                # These tests build with tokens, then rebuild with --strategy structure.
                "KURA_CHUNK_STRATEGY": "tokens",
                "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    return env


def kura(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bots.cli", *args], capture_output=True, text=True,
                          env=kura_env(data_dir), cwd=data_dir.parent, timeout=300)


def start_kura(*args: str, data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bots.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=kura_env(data_dir), cwd=data_dir.parent)


def wait_for_progress(process: subprocess.Popen, *, min_chunks: int = 1) -> str:
    """Read the job's progress lines until it reports ``min_chunks`` chunks embedded."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if line.startswith("reindex:") and int(line.split(" chunks embedded")[0].rsplit(" ", 1)[1]) >= min_chunks:
            return line
    raise AssertionError(f"no progress line; exit {process.poll()}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A data dir indexed by `kura reindex` (the first run builds)."""
    data = tmp_path_factory.mktemp("reindex") / "data"
    write_corpus(CORPUS)
    result = kura("reindex", "--json", data_dir=data)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["mode"] == "full" and summary["switched"] and summary["documents_added"] == len(TOPICS)
    return data, summary


@pytest.fixture
def data_dir(built, tmp_path):
    """A copy of the built data dir per test."""
    data = tmp_path / "data"
    shutil.copytree(built[0], data)
    return data


def test_no_change_run_prints_one_line_and_embeds_nothing(data_dir):
    result = kura("reindex", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reindex incremental: 0 added, 0 updated, 0 deleted")
    assert "0 chunks embedded" in lines[0]


def test_second_concurrent_run_exits_with_its_own_code(data_dir):
    first = start_kura("reindex", "--full", "--strategy", "structure", data_dir=data_dir)
    try:
        wait_for_progress(first)  # it holds the lock now; pause it there so it cannot finish first
        first.send_signal(signal.SIGSTOP)
        second = kura("reindex", data_dir=data_dir)
        assert second.returncode == EXIT_LOCKED
        assert f"another kura reindex is running (pid {first.pid}" in second.stderr
        assert second.stdout == ""
    finally:
        first.send_signal(signal.SIGCONT)
        first.communicate(timeout=300)
    assert first.returncode == 0


def test_killed_rebuild_leaves_the_old_index_serving_and_the_next_run_resumes(data_dir, built, embedder):
    serving = EdgeGenerations(data_dir / "index").serving()
    rebuild = start_kura("reindex", "--full", "--strategy", "structure", data_dir=data_dir)
    wait_for_progress(rebuild, min_chunks=8)
    rebuild.send_signal(signal.SIGKILL)
    rebuild.wait()
    assert EdgeGenerations(data_dir / "index").serving() == serving
    with KuraApp(Settings(data_dir=data_dir), embedder=embedder) as app:
        hits = app.retriever.retrieve("expense report approval", top_k=5, principals=("public",))
        assert hits and {h.chunk.strategy for h in hits} == {"tokens"}
    resumed = kura("reindex", "--full", "--strategy", "structure", "--json", data_dir=data_dir)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] and summary["switched"] and summary["documents"] == built[1]["documents"]
    assert summary["documents_unchanged"] > 0  # what the killed run wrote was kept


def test_queries_during_a_rebuild_always_see_a_complete_index(data_dir, built, embedder):
    seen: list[tuple[str, int]] = []  # (strategy of the hits, chunks in the index that served them)
    with KuraApp(Settings(data_dir=data_dir), embedder=embedder) as app:
        rebuild = start_kura("reindex", "--full", "--strategy", "structure", "--json", data_dir=data_dir)
        while rebuild.poll() is None:
            retriever = app.retriever  # follows a switch; one store serves the whole query
            hits = retriever.retrieve("Who approves expense reports?", top_k=5, principals=("public",))
            assert hits
            kinds = {h.chunk.strategy for h in hits}
            assert len(kinds) == 1  # never a mix of two indexes
            seen.append((kinds.pop(), retriever.store.count()))
        out, err = rebuild.communicate(timeout=300)
        assert rebuild.returncode == 0, err
        summary = json.loads(out)
        hits = app.retriever.retrieve("Who approves expense reports?", top_k=5, principals=("public",))
        assert {h.chunk.strategy for h in hits} == {"structure"}  # the web process followed the switch
        assert app.retriever.store.count() == summary["chunks"]
    # Every query was answered by a complete index: the old one or the new one, never one being built.
    assert set(seen) <= {("tokens", built[1]["chunks"]), ("structure", summary["chunks"])}
    assert seen[0][0] == "tokens" and len(seen) > 3


def flat(output: str) -> str:
    """Click's error box without its frame and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def test_strategy_needs_full_and_a_known_name(tmp_path):
    from typer.testing import CliRunner

    from bots.cli import main as cli

    runner = CliRunner()
    env = {"KURA_DATA_DIR": str(tmp_path / "data")}
    alone = runner.invoke(cli.app, ["reindex", "--strategy", "structure"], env=env)
    assert alone.exit_code == 2 and "use it with --full" in flat(alone.output)
    unknown = runner.invoke(cli.app, ["reindex", "--full", "--strategy", "sections"], env=env)
    assert unknown.exit_code == 2 and "unknown strategy 'sections'" in flat(unknown.output)
    assert not (tmp_path / "data").exists()  # refused before touching anything
