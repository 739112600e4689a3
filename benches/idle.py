"""Idle cost: CPU each process of a running, idle stack uses (percent of one core).

`python -m benches.idle [--settle S] [--seconds S]` starts the whole stack (broker and six
services, as the system tests do), waits for it to settle, then reads each process's CPU time
(user + system, children included for the broker) over the window. CPU *time* of a process
is what it used, not what it was given, so the figure holds on a busy shared machine better
than wall-clock figures do. The bench (section 6) measures the same on its own stack.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

from caseplatform.devstack.stack import DevStack


def cpu_seconds(pid: int) -> float | None:
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        total = times.user + times.system
        for child in process.children(recursive=True):
            try:
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
            except psutil.Error:
                continue
        return total
    except psutil.Error:
        return None


def measure(pids: Mapping[str, int], seconds: float) -> dict[str, float | None]:
    """Percent of one core each process used over `seconds` (None if it went away)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result: dict[str, float | None] = {}
    for name in pids:
        b, a = before[name], after[name]
        result[name] = None if a is None or b is None else 100 * (a - b) / elapsed
    return result


def stack_pids(stack: DevStack) -> dict[str, int]:
    pids = {name: pid for name in stack.services if (pid := stack.pid(name)) is not None}
    if stack.broker.pid is not None:
        pids["broker"] = stack.broker.pid
    return pids


def idle_cpu(stack: DevStack, settle_s: float, seconds: float) -> dict[str, float | None]:
    time.sleep(settle_s)
    return measure(stack_pids(stack), seconds)


def main(argv: list[str] | None = None) -> int:
    from .stack import new_stack

    parser = argparse.ArgumentParser(prog="python -m benches.idle", description=__doc__)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="idle-") as tmp:
        stack = new_stack(Path(tmp))
        stack.start()
        try:
            figures = idle_cpu(stack, args.settle, args.seconds)
        finally:
            stack.stop()
    for name, value in figures.items():
        print(f"{name:10s} {'gone' if value is None else f'{value:5.1f} %'}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
