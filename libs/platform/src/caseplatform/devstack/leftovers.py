"""What a stack that did not stop cleanly left running, and stopping it before a new one starts.

Each child of the stack runs in its own session (so Ctrl-C reaches the launcher, which stops them
in order): if the launcher itself is killed (`kill -9`, an out-of-memory kill), the broker and the
services carry on without it, holding their ports and the stores. Every stack keeps a record of
its processes in its data dir; a new stack on that dir stops what the record names and is still
running, or refuses to start if the stack that wrote it is itself still running.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil

from caseplatform.devstack import procs

log = logging.getLogger(__name__)

RECORD = "devstack.pids.json"


class StackInUse(RuntimeError):
    """Another stack, still running, uses the same data dir."""


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _same(entry: Mapping[str, float]) -> psutil.Process | None:
    """The process the record names, if it still runs (a pid reused since is another process)."""
    pid, started = int(entry["pid"]), float(entry["started"])
    try:
        process = psutil.Process(pid)
        return process if abs(process.create_time() - started) < 0.01 else None
    except psutil.Error:
        return None


def write_record(data_dir: Path, children: Mapping[str, int]) -> None:
    """Note this process as the stack's launcher and `children` (name: pid) as its processes."""
    me = os.getpid()
    record = {
        "launcher": {"pid": me, "started": _started(me)},
        "children": {name: {"pid": pid, "started": _started(pid)} for name, pid in children.items()},
    }
    path = data_dir / RECORD
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(record))
    partial.replace(path)


def forget_record(data_dir: Path) -> None:
    (data_dir / RECORD).unlink(missing_ok=True)


def stop_leftovers(data_dir: Path, timeout_s: float = 10.0) -> list[str]:
    """Stop what a stack on `data_dir` left running (SIGTERM, then SIGKILL after `timeout_s`);
    the names of those stopped. Raises `StackInUse` if that stack's launcher still runs."""
    path = data_dir / RECORD
    try:
        record = json.loads(path.read_text())
        launcher, children = record["launcher"], record["children"]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring an unreadable %s", path)
        forget_record(data_dir)
        return []
    if launcher.get("started") is not None and int(launcher["pid"]) != os.getpid() and _same(launcher):
        raise StackInUse(f"another stack (launcher pid {launcher['pid']}) is running on {data_dir}: stop it first "
                         "(Ctrl-C where it runs), or give this one another CASEWORK_DATA_DIR")
    left = {name: process for name, entry in children.items()
            if entry.get("started") is not None and (process := _same(entry)) is not None}
    for process in left.values():
        procs.signal_group_of(process.pid, signal.SIGTERM)  # each child leads its own process group
    for process in _running(left.values(), timeout_s):
        procs.signal_group_of(process.pid, signal.SIGKILL)
    _running(left.values(), timeout_s)
    forget_record(data_dir)
    return sorted(left)


def _running(processes: Iterable[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those still running after up to `timeout_s`. Not our children: once they exit they are
    someone else's to reap, and a zombie holds no port and no file, so it counts as gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        still = [p for p in processes if _alive(p)]
        if not still or time.monotonic() >= deadline:
            return still
        time.sleep(0.05)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

