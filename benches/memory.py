"""Peak resident memory of a process (Linux VmHWM), current RSS elsewhere."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import psutil


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak RSS so far, in MiB (None if it is gone)."""
    status = Path(f"/proc/{pid}/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return None


def own_peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


def cpu_seconds(pids: dict[str, int | None]) -> dict[str, float]:
    """User+system CPU seconds used so far by each named process (those still running)."""
    used: dict[str, float] = {}
    for name, pid in pids.items():
        if pid is None:
            continue
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        used[name] = times.user + times.system
    return used
