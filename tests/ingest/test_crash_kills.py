"""kill -9 of `kura ingest` and `kura reindex --full` at random points (tests/ingest/crash_harness.py).

The default run kills a handful of times; ``KURA_CRASH_KILLS=50`` runs the full randomized test (long: a
quarter of an hour or more on a shared 2-core machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("crash_harness.py")


@pytest.mark.timeout(3600)  # each kill costs a `kura` start; on a loaded machine a start can take a minute
def test_every_run_after_a_kill_succeeds_and_no_half_document_is_ever_visible(tmp_path):
    kills = int(os.environ.get("KURA_CRASH_KILLS", "3"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    run = subprocess.run([sys.executable, str(HARNESS), "--kills", str(kills), "--seed", "7",
                          "--workdir", str(tmp_path / "work")],
                         capture_output=True, text=True, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=600 + 60 * kills)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["total_kills"] == kills
    assert report["failed_runs"] == [] and report["problems"] == [], report
    assert report["reader_states"].get("checked", 0) >= kills  # the reader did look
