"""Run this process under a hard memory limit (a Linux memory cgroup), so a benchmark shows what a budget holds.

Resident memory of a serving process counts the index files it has memory-mapped (page cache the kernel could
take back) besides what it cannot give back. A cgroup limit charges both: under it the kernel reclaims the
mapped pages instead of letting them grow, so "serves 1M chunks in 2 GB" is measured, not argued. Needs root
(or a delegated cgroup); cgroup v2 (``memory.max``) and v1 (``memory.limit_in_bytes``) are both handled.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class MemoryLimit:
    """Moves the calling process into a new memory cgroup of ``limit_mb``; ``peak_mb()`` is its highest charge."""

    def __init__(self, limit_mb: int, name: str | None = None) -> None:
        if limit_mb <= 0:
            raise ValueError("the memory limit must be > 0 MB")
        name = name or f"kura-bench-{os.getpid()}"
        if "memory" in _read(ROOT / "cgroup.controllers").split():  # v2, the unified hierarchy at the root
            self.path, self._limit, self._peak, self._usage = ROOT / name, "memory.max", "memory.peak", "memory.current"
        elif (ROOT / "memory" / "memory.limit_in_bytes").exists():  # v1
            self.path = ROOT / "memory" / name
            self._limit, self._peak, self._usage = "memory.limit_in_bytes", "memory.max_usage_in_bytes", "memory.usage_in_bytes"
        else:
            raise RuntimeError("no memory cgroup controller under /sys/fs/cgroup: cannot apply a memory limit")
        try:
            self.path.mkdir(exist_ok=True)
            (self.path / self._limit).write_text(str(limit_mb * 2**20))
            if self._limit == "memory.limit_in_bytes":  # v1: swap is counted separately; there is none here
                swap = self.path / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(limit_mb * 2**20))
            (self.path / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as exc:
            raise RuntimeError(f"cannot create the memory cgroup {self.path}: {exc.strerror} (run as root)") from exc
        self.limit_mb = limit_mb

    def usage_mb(self) -> float:
        return int(_read(self.path / self._usage) or 0) / 2**20

    def peak_mb(self) -> float | None:
        text = _read(self.path / self._peak)
        return int(text) / 2**20 if text else None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def remove(name: str) -> None:
    """Delete a cgroup ``MemoryLimit`` made, once its processes have exited (an empty cgroup is removed by rmdir)."""
    for path in (ROOT / name, ROOT / "memory" / name):
        try:
            path.rmdir()
        except OSError:
            pass
