"""Background warming stays inside the memory a process may fill: its cgroup limit (a container's) or the machine's."""

from __future__ import annotations

import threading

from core.memory_budget import available_bytes, cgroup_headroom_bytes, fill_budget_bytes
from core.store_edge import _ask_kernel_to_cache

MB = 1 << 20


def _tree(tmp_path, cgroup_line: str, files: dict[str, str], meminfo_mb: int = 20_000):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(f"9:name=systemd:/\n{cgroup_line}\n")
    (proc / "meminfo").write_text(f"MemTotal: 24000000 kB\nMemAvailable: {meminfo_mb * 1024} kB\n")
    cgroups = tmp_path / "cgroup"
    for rel, text in files.items():
        (cgroups / rel).parent.mkdir(parents=True, exist_ok=True)
        (cgroups / rel).write_text(text)
    return proc, cgroups


def test_v1_limit_minus_usage(tmp_path):
    proc, cgroups = _tree(tmp_path, "4:memory:/kura", {
        "memory/kura/memory.limit_in_bytes": str(2048 * MB), "memory/kura/memory.usage_in_bytes": str(900 * MB)})
    assert cgroup_headroom_bytes(proc, cgroups) == 1148 * MB
    assert fill_budget_bytes(256 * MB, proc, cgroups) == 892 * MB  # the cgroup is tighter than 20 GB free


def test_v2_limit_and_unlimited(tmp_path):
    proc, cgroups = _tree(tmp_path, "0::/app", {"app/memory.max": str(1024 * MB), "app/memory.current": str(24 * MB)})
    assert cgroup_headroom_bytes(proc, cgroups) == 1000 * MB
    proc, cgroups = _tree(tmp_path / "b", "0::/app", {"app/memory.max": "max", "app/memory.current": str(24 * MB)})
    assert cgroup_headroom_bytes(proc, cgroups) is None
    assert fill_budget_bytes(256 * MB, proc, cgroups) == (20_000 - 256) * MB  # no limit: the machine's free memory


def test_v1_no_limit_is_a_huge_number(tmp_path):
    proc, cgroups = _tree(tmp_path, "4:memory:/", {
        "memory/memory.limit_in_bytes": "9223372036854771712", "memory/memory.usage_in_bytes": str(MB)})
    assert cgroup_headroom_bytes(proc, cgroups) is None
    assert available_bytes(proc) == 20_000 * MB


def test_warming_stops_at_the_budget(tmp_path):
    files = []
    for name in ("a", "b"):
        f = tmp_path / name
        f.write_bytes(b"\0" * (10 * MB))
        files.append(f)
    assert _ask_kernel_to_cache(files, threading.Event(), budget=8 * MB) == 8 * MB
    assert _ask_kernel_to_cache(files, threading.Event(), budget=100 * MB) == 20 * MB
    stopped = threading.Event()
    stopped.set()
    assert _ask_kernel_to_cache(files, stopped, budget=100 * MB) == 0
