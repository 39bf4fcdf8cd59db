"""deploy/every.sh, the re-index schedule of docker compose: runs now, again after the interval, health check."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

EVERY = Path(__file__).resolve().parents[2] / "deploy" / "every.sh"


def test_runs_now_and_again_after_the_interval_even_after_a_failure(tmp_path):
    runs = tmp_path / "runs"
    stamp = tmp_path / "stamp"
    env = {**os.environ, "EVERY_INTERVAL_S": "1", "EVERY_STAMP_FILE": str(stamp)}
    check = [str(EVERY), "--check"]
    assert subprocess.run(check, env=env).returncode == 1  # no run yet: not healthy

    # Each run appends a line and fails, like a `kura reindex` whose source is down.
    job = subprocess.Popen([str(EVERY), "sh", "-c", f"echo run >> {runs}; exit 4"], env=env,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while (not runs.exists() or len(runs.read_text().splitlines()) < 2) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(runs.read_text().splitlines()) >= 2  # the schedule went on after the failed run
        assert subprocess.run(check, env=env).returncode == 0
        assert subprocess.run(check, env={**env, "EVERY_INTERVAL_S": "0"}).returncode == 1  # stale
    finally:
        job.terminate()
        _, err = job.communicate(timeout=5)
    assert "exited with status 4" in err


def test_without_a_command_it_explains_itself():
    result = subprocess.run([str(EVERY)], capture_output=True, text=True)
    assert result.returncode == 2 and "usage" in result.stderr
