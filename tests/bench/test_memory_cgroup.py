"""The benchmark's memory limit is a real cgroup limit: a process that outgrows it is killed, one within it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import memory_cgroup  # noqa: E402

ALLOCATE = """
import sys
sys.path.insert(0, {bench!r})
import memory_cgroup
limit = memory_cgroup.MemoryLimit(64, name={name!r})
block = bytearray({mb} * 2**20)
block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not only reserved
print(round(limit.peak_mb()))
"""


def _cgroups_writable() -> bool:
    """Whether this process may make memory cgroups (root on a machine with the controller), probed directly."""
    for parent in (memory_cgroup.ROOT / "memory", memory_cgroup.ROOT):
        probe = parent / "kura-test-probe"
        try:
            if parent == memory_cgroup.ROOT and "memory" not in (parent / "cgroup.controllers").read_text():
                continue
            probe.mkdir()
            probe.rmdir()
            return True
        except OSError:
            continue
    return False


def _run(mb: int, name: str) -> subprocess.CompletedProcess:
    code = ALLOCATE.format(bench=str(BENCH), name=name, mb=mb)
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    finally:
        memory_cgroup.remove(name)


def test_process_over_the_limit_is_killed_and_one_under_it_runs(tmp_path):
    if not _cgroups_writable():
        pytest.skip("memory cgroups are not writable here (no controller, or not root)")
    within = _run(16, f"kura-test-within-{tmp_path.name}")
    assert within.returncode == 0, within.stderr
    assert 16 <= int(within.stdout.strip()) < 64
    over = _run(256, f"kura-test-over-{tmp_path.name}")
    assert over.returncode == -9, (over.returncode, over.stderr[-500:])


def test_a_limit_must_be_positive():
    with pytest.raises(ValueError, match="> 0 MB"):
        memory_cgroup.MemoryLimit(0)
