"""A cold `kura ask` (a new process, extractive): what it imports and what it loads ahead (bench/cold_ask.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sentence_transformers", "transformers", "openai",
         # OpenVINO's model-conversion tools, and with them the usage event they send on every import
         "openvino.tools.ovc", "openvino_telemetry")
# Runs the real console entry point in a fresh interpreter, then reports on the process to stderr: when `main`
# ends a finished ask at once (os._exit, no interpreter teardown), and otherwise when it raises SystemExit.
ASK = """
import gc, json, os, sys, threading
sys.argv = ["kura", "ask", sys.argv[1], "--json"]  # before the import, as the console script has it
from bots.cli.main import main

started = []
real_start = threading.Thread.start
def start(self):
    started.append(self.name)
    real_start(self)
threading.Thread.start = start

def report(code, at_once):
    report = {"code": code, "at_once": at_once, "heavy": sorted(m for m in %r if m in sys.modules),
              "started": started, "alive": [t.name for t in threading.enumerate() if t.name.startswith("kura-load")],
              "model_loaded": "openvino" in sys.modules or "tokenizers" in sys.modules, "gc": gc.isenabled()}
    print(json.dumps(report), file=sys.stderr, flush=True)

real_exit = os._exit
def exit_at_once(code):
    report(code, True)
    real_exit(code)
os._exit = exit_at_once
try:
    main()
except SystemExit as exc:
    report(exc.code, False)
""" % (HEAVY,)


def env_for(data_dir: Path, tmp: Path) -> dict:
    from core.settings import Settings

    # Not PYTHONUNBUFFERED either (set here by the session): a user's stdout into a pipe is block-buffered.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_") and k != "PYTHONUNBUFFERED"}
    env.update({"KURA_DATA_DIR": str(data_dir), "KURA_ANSWERER": "extractive", "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": str(REPO),
                # The compiled model from the per-user cache `make install` fills, as a user's ask finds it;
                # the term tables in a cache of their own, empty at first.
                "KURA_EMBEDDING_CACHE_DIR": str(Settings().embedder_cache_dir), "XDG_CACHE_HOME": str(tmp / "xdg")})
    return env


def cold_ask(question: str, data_dir: Path, tmp: Path) -> tuple[dict, dict | None]:
    out = subprocess.run([sys.executable, "-c", ASK, question], capture_output=True, text=True,
                         env=env_for(data_dir, tmp), cwd=tmp, timeout=300)
    report = json.loads(out.stderr.strip().splitlines()[-1])
    return report, json.loads(out.stdout) if report["code"] == 0 else None


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cold")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "expenses.md").write_text(
        "# Expense approvals\n\nExpense reports over 50,000 yen must be approved by the department head. "
        "Reports up to 50,000 yen are approved by your direct manager.\n", encoding="utf-8")
    (docs / "vpn.md").write_text(
        "# VPN\n\nInstall Hoshi Connect from the software portal, then sign in with your company account.\n",
        encoding="utf-8")
    data = tmp / "data"
    done = subprocess.run([sys.executable, "-m", "bots.cli", "ingest", "--path", str(docs)], capture_output=True,
                          text=True, env=env_for(data, tmp), cwd=tmp, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp, data


def test_a_cold_ask_answers_without_torch_or_the_openai_sdk(small_index):
    tmp, data = small_index
    for _ in range(2):  # the term tables parsed (first ask), then read back from the user cache
        report, answer = cold_ask("Who approves an expense report over 50,000 yen?", data, tmp)
        assert report["code"] == 0 and report["heavy"] == []
        assert not answer["abstained"] and "department head" in answer["answer"]
    assert len(list((tmp / "xdg" / "kura" / "tables").glob("*.json"))) == 2  # synonyms and the term bridge


def test_a_cold_ask_loads_the_model_on_a_second_thread_and_waits_for_it(small_index):
    tmp, data = small_index
    report, _ = cold_ask("How do I set up the VPN?", data, tmp)
    assert "kura-load-ahead" in report["started"] and report["alive"] == []
    # Only Kura's own threads: no telemetry sender (OpenVINO's conversion tools start one in a thread pool).
    assert all(name.startswith("kura-") for name in report["started"]), report["started"]


def test_a_finished_ask_ends_without_the_interpreters_teardown_and_its_output_complete(small_index):
    tmp, data = small_index
    report, answer = cold_ask("Who approves an expense report over 50,000 yen?", data, tmp)
    assert report["code"] == 0 and report["at_once"] is True
    assert "department head" in answer["answer"] and answer["sources"]  # the whole JSON reached the pipe
    assert report["gc"] is False  # a one-shot command runs without the cyclic collector
    # The sentence vectors' SQLite file was closed (its write-ahead log folded back) before the process ended.
    assert (data / "sentence_vectors.sqlite").exists() and not (data / "sentence_vectors.sqlite-wal").exists()


@pytest.mark.parametrize("command", ["ingest", "serve", "reindex"])
def test_long_running_commands_keep_the_cyclic_collector(command):
    script = "import gc, sys; sys.argv = ['kura', %r]; import bots.cli.main; print(gc.isenabled())" % command
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "True", out.stderr[-2000:]


def test_without_an_index_nothing_is_loaded_ahead(tmp_path):
    report, _ = cold_ask("How do I set up the VPN?", tmp_path / "empty", tmp_path)
    assert report["code"] == 3 and not report["model_loaded"] and report["alive"] == []
    assert report["at_once"] is False  # a failed ask exits through the usual path


def test_embedder_prepare_also_parses_the_term_tables(tmp_path):
    """`make install` runs it: the first ask then reads both tables back from the user cache."""
    done = subprocess.run([sys.executable, "-m", "bots.cli", "embedder", "prepare"], capture_output=True, text=True,
                          env=env_for(tmp_path / "data", tmp_path), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "term tables: ready" in done.stdout
    names = sorted(p.name.split("-v")[0] for p in (tmp_path / "xdg" / "kura" / "tables").glob("*.json"))
    assert names == ["synonyms", "term-bridge"]
