"""Child processes of the dev stack: start in their own process group, stop within a bound."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

_HEADER_PREFIX = "===== devstack: "


def spawn(
    argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, *, header: str
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr appended to `log_path`, after a `header` line that
    separates this run from earlier ones (restarts within a run keep the earlier output).

    The child gets its own session (so its own process group): Ctrl-C in the terminal then reaches
    only the launcher, which stops the children in order instead of all of them dying at once.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        log_file.write(f"{_HEADER_PREFIX}{header}, started {stamp} =====\n".encode())
        log_file.flush()
        # Popen duplicates the descriptor, so the file can be closed here.
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` to the child's process group, if the child has not been reaped yet.

    Only an unreaped child is signalled: after `wait()` its pid may belong to someone else.
    """
    if proc.poll() is None:
        signal_group_of(proc.pid, sig)


def signal_group_of(pid: int, sig: int) -> None:
    """Send `sig` to the process group `pid` leads (as each child `spawn` starts does); nothing
    if it is gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, wait up to `timeout`, then SIGKILL; always reaps. Returns the exit code."""
    signal_group(proc, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return kill(proc, signal.SIGKILL)


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL, timeout: float = 10.0) -> int:
    """Send `sig` and reap; escalates to SIGKILL if the child outlives `timeout`."""
    signal_group(proc, sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)
        return proc.wait(timeout)


def log_tail(path: Path, lines: int = 20, max_bytes: int = 16_384) -> str:
    """The last `lines` lines of a log file, for error messages ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    # Only the latest run: earlier runs end before the last header line that `spawn` wrote.
    starts = [i for i, line in enumerate(text) if line.startswith(_HEADER_PREFIX)]
    if starts:
        text = text[starts[-1] :]
    return "\n".join(text[-lines:])


def describe_exit(code: int) -> str:
    """'exit code 3' or 'killed by SIGKILL' — negative codes are signals in Popen."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
