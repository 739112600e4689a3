"""Local TCP ports: find free ones for tests, and refuse plainly to start on a taken one."""

from __future__ import annotations

import contextlib
import socket

LOCALHOST = "127.0.0.1"


class PortInUse(RuntimeError):
    """A port the stack needs is already taken by another process."""

    def __init__(self, port: int, purpose: str, host: str = LOCALHOST) -> None:
        super().__init__(
            f"port {port} on {host} ({purpose}) is already in use by another process; "
            f"stop that process or choose another port"
        )
        self.port = port
        self.purpose = purpose


def free_port(host: str = LOCALHOST) -> int:
    """A port that was free a moment ago (for tests; another process may still take it)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOCALHOST) -> list[int]:
    """`count` distinct free ports: every socket stays bound until all are chosen."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def ensure_port_free(port: int, purpose: str, host: str = LOCALHOST) -> None:
    """Raise `PortInUse` if something already listens on `port`.

    Checked before starting anything: a stale broker or service left on a port would otherwise
    answer our readiness checks in place of the process we just started. SO_REUSEADDR mirrors what
    the broker and gRPC set, so a port merely in TIME_WAIT after a restart still counts as free.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(port, purpose, host) from exc


def port_open(host: str, port: int) -> bool:
    """Whether something accepts connections on `port` now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
