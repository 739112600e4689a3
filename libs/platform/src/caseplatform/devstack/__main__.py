"""`make run`: the broker, every topic and all six services in the foreground; Ctrl-C stops them.

Environment (all optional):
  BROKER_PORT                       Kafka broker port (default 9092)
  KCAT_PORT                         the broker for Debian's kcat, through the ApiVersions shim
                                    (default 9093; 0: none)
  CASEWORK_DATA_DIR                 data directory (default ./var); kept between runs
  <SERVICE>_GRPC_PORT               e.g. INTAKE_GRPC_PORT; defaults in caseplatform.topology
  <SERVICE>_METRICS_PORT            e.g. INTAKE_METRICS_PORT
  KAFKA_TOPIC_PARTITIONS            partitions per topic (default 3)
  CASEWORK_RESTART                  always (default): a service, the broker or the kcat shim that
                                    dies is started again, backing off while it keeps dying
                                    (`supervisor`); never: the first death stops the stack
  CASEWORK_SERVICES                 testing aid: comma-separated modules to run instead of the six
                                    services (each started as `python -m <name>`)

Exit status: 0 after Ctrl-C/SIGTERM/SIGHUP and a clean stop; 1 if a service or the broker failed
(died with CASEWORK_RESTART=never, or kept dying as soon as it was started again); 2 if the
configuration is wrong, a port is already taken or another stack runs on the data dir.
What a launcher that was killed left running on the same data dir is stopped first.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from caseplatform import topology
from caseplatform.devstack.broker import BrokerFailed
from caseplatform.devstack.leftovers import StackInUse
from caseplatform.devstack.ports import PortInUse
from caseplatform.devstack.stack import DevStack, Endpoint, ServiceFailed
from caseplatform.devstack.supervisor import RestartPolicy, Supervisor

log = logging.getLogger("caseplatform.devstack")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
# SIGHUP: the terminal was closed. Stopped children otherwise outlive the launcher (each runs in
# its own session, out of the terminal's reach).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ConfigError(ValueError):
    """The environment asks for something impossible; the message says what."""


@dataclass(frozen=True)
class Settings:
    broker_port: int
    kcat_port: int | None
    data_dir: Path
    services: tuple[str, ...]
    ports: dict[str, tuple[int, int]]
    partitions: int
    restart: bool = True


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    raw_services = environ.get("CASEWORK_SERVICES", "").strip()
    services = (
        tuple(s.strip() for s in raw_services.split(",") if s.strip())
        if raw_services
        else topology.SERVICES
    )
    ports: dict[str, tuple[int, int]] = {}
    for name in services:
        default = topology.DEFAULTS.get(name)
        ports[name] = (
            _port(environ, f"{name.upper()}_GRPC_PORT", default.grpc_port if default else None),
            _port(
                environ, f"{name.upper()}_METRICS_PORT", default.metrics_port if default else None
            ),
        )
    partitions = _int(environ, "KAFKA_TOPIC_PARTITIONS", 3)
    if partitions < 1:
        raise ConfigError(f"KAFKA_TOPIC_PARTITIONS must be at least 1, got {partitions}")
    kcat_port = _int(environ, "KCAT_PORT", 9093)
    restart = environ.get("CASEWORK_RESTART", "").strip().lower() or "always"
    if restart not in ("always", "never"):
        raise ConfigError(f"CASEWORK_RESTART must be 'always' or 'never', got {restart!r}")
    return Settings(
        broker_port=_port(environ, "BROKER_PORT", 9092),
        kcat_port=_port(environ, "KCAT_PORT", 9093) if kcat_port else None,
        data_dir=Path(environ.get("CASEWORK_DATA_DIR") or "var"),
        services=services,
        ports=ports,
        partitions=partitions,
        restart=restart == "always",
    )


def format_table(rows: Sequence[Endpoint]) -> str:
    header = Endpoint("SERVICE", "ADDRESS", "METRICS", "TOPIC")
    cells = [header, *(Endpoint(*(value or "-" for value in row)) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s", stream=sys.stderr)
    try:
        settings = settings_from_env(os.environ)
        stack = DevStack(
            settings.data_dir,
            settings.broker_port,
            settings.ports,
            services=settings.services,
            partitions=settings.partitions,
            kcat_port=settings.kcat_port,
        )
    except ValueError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG

    for sig in _STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:  # `nohup make run`: the hang-up stays ignored
            signal.signal(sig, _request_stop)
    code = EXIT_OK
    try:
        stack.start()
        supervisor = Supervisor(stack, RestartPolicy(restart=settings.restart))
        print(_banner(stack, settings.restart), flush=True)
        while True:
            supervisor.check()
            time.sleep(0.5)
    except _StopRequested as stop:
        log.info("%s received, stopping", signal.Signals(stop.signum).name)
    except (PortInUse, StackInUse) as exc:
        log.error("%s", exc)
        code = EXIT_CONFIG
    except (ServiceFailed, BrokerFailed) as exc:
        log.error("%s", exc)
        log.error("stopping the stack")
        code = EXIT_FAILED
    finally:
        _ignore_stop_signals()
        stack.stop()
    log.info("stopped; data kept in %s", stack.data_dir)
    return code


def _banner(stack: DevStack, restart: bool) -> str:
    return "\n".join(
        [
            "",
            format_table(stack.endpoints()),
            "",
            "services speak gRPC; the broker speaks Kafka (Tansu, in memory: a restart empties it)",
            f"data: {stack.data_dir} (kept; `make clean` deletes it)   logs: {stack.log_dir}",
            "a process that dies is started again" if restart else "a process that dies stops the stack (CASEWORK_RESTART=never)",
            "Ctrl-C stops everything.",
        ]
    )


class _StopRequested(BaseException):
    """Raised from the signal handler; a BaseException so no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _request_stop(signum: int, frame: FrameType | None) -> None:
    _ignore_stop_signals()  # a second Ctrl-C must not cut the orderly shutdown short
    raise _StopRequested(signum)


def _ignore_stop_signals() -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _int(environ: Mapping[str, str], key: str, default: int | None) -> int:
    raw = environ.get(key, "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{key} is not set and has no default")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number, got {raw!r}") from None


def _port(environ: Mapping[str, str], key: str, default: int | None) -> int:
    port = _int(environ, key, default)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{key} must be a port number (1-65535), got {port}")
    return port


if __name__ == "__main__":
    sys.exit(main())
