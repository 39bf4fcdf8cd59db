"""How much more memory this process may fill: its cgroup's limit (a container's), else the machine's free memory.

A serving process caches the index files it reads per query (page cache, charged to its cgroup). In a container
with a memory limit, caching more than the limit leaves only evicts the pages queries need a moment later, so
background warming asks this first. Linux only; elsewhere the answer is "unknown" (None).
"""

from __future__ import annotations

from pathlib import Path

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2^63


def cgroup_headroom_bytes(proc: Path = Path("/proc"), cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Limit minus current usage of this process's memory cgroup (v2 or v1); None when it has no limit."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        rel = path.lstrip("/")
        if controllers == "":  # v2: one unified hierarchy
            limit, usage = _read_int(cgroups / rel / "memory.max"), _read_int(cgroups / rel / "memory.current")
        elif "memory" in controllers.split(","):  # v1: the memory controller's own hierarchy
            base = cgroups / "memory" / rel
            limit, usage = _read_int(base / "memory.limit_in_bytes"), _read_int(base / "memory.usage_in_bytes")
        else:
            continue
        if limit is not None and usage is not None and limit < _UNLIMITED:
            return max(0, limit - usage)
    return None


def available_bytes(proc: Path = Path("/proc")) -> int | None:
    """The kernel's estimate of memory available without swapping (``MemAvailable``)."""
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def fill_budget_bytes(reserve: int = 256 << 20, proc: Path = Path("/proc"),
                      cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process may add to memory and keep ``reserve`` free: the tighter of its cgroup and the machine."""
    known = [b for b in (cgroup_headroom_bytes(proc, cgroups), available_bytes(proc)) if b is not None]
    return max(0, min(known) - reserve) if known else None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None
