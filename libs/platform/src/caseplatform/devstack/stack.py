"""The whole system on one machine: a broker, every topic, and each service as its own process.

Used by `make run` (see `__main__`) and by system tests. Every wait is bounded; a service that dies
or never reports SERVING is named in the error, with the end of its log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform import topology
from caseplatform.auth import DevIssuer
from caseplatform.devstack import leftovers, procs
from caseplatform.devstack.broker import BrokerFailed, TansuBroker
from caseplatform.devstack.ports import LOCALHOST, ensure_port_free, port_open
from caseplatform.devstack.sync import run_sync
from caseplatform.kafka.admin import ensure_topics

log = logging.getLogger(__name__)

# The names `exited` and `restart` give the stack's own children beside its services.
BROKER = "broker"
KCAT_SHIM = "kcat shim"

# Reconnect quickly while a service is starting: gRPC's default backoff grows to minutes.
_HEALTH_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.enable_http_proxy", 0),
]


class ServiceFailed(RuntimeError):
    """A service process exited, or did not report SERVING in time."""

    def __init__(self, service: str, reason: str, log_path: Path, exit_code: int | None) -> None:
        tail = procs.log_tail(log_path)
        super().__init__(f"service {service} {reason}; log {log_path}:\n{tail}")
        self.service = service
        self.exit_code = exit_code
        self.log_path = log_path


class Endpoint(NamedTuple):
    """One row of the endpoints table; empty strings where a column does not apply."""

    name: str
    address: str
    metrics: str
    topic: str


class DevStack:
    """Broker, topics and service processes, started and stopped together.

    `ports` maps a service to its (gRPC, metrics) ports; services not in it use `topology.DEFAULTS`.
    `env` is added to the children's environment (e.g. PYTHONPATH); the variables the stack itself
    sets (broker address, data dir, ports, partitions) always win, so every child agrees on them.
    `services` is the list of modules to run as `python -m <name>`; tests pass fakes.
    `add_replica` starts a further process of a service (`<service>@2`, ...) sharing its store
    and consumer group: horizontal scale, which needs PostgreSQL (`CASEWORK_PERSISTENCE`).
    """

    def __init__(
        self,
        data_dir: Path,
        broker_port: int = 9092,
        ports: Mapping[str, tuple[int, int]] | None = None,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        *,
        services: Sequence[str] = topology.SERVICES,
        partitions: int = 3,
        host: str = LOCALHOST,
        ready_timeout: float = 120.0,
        stop_timeout: float = 10.0,
        kcat_port: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.log_dir = Path(log_dir).resolve() if log_dir is not None else self.data_dir / "logs"
        self.services: tuple[str, ...] = tuple(dict.fromkeys(services))
        self.ports = _resolve_ports(self.services, ports or {})
        _check_distinct(broker_port, self.ports, kcat_port)
        # Where Debian's kcat (librdkafka 2.0.2) reaches the broker through the ApiVersions shim;
        # every other client, the services included, talks to the broker directly.
        self.kcat_port = kcat_port
        self._kcat_shim: subprocess.Popen[bytes] | None = None
        self._recorded = False  # this stack's processes are noted in its data dir (`leftovers`)
        self.partitions = partitions
        self.host = host
        self.ready_timeout = ready_timeout
        self._extra_env = dict(env or {})
        # A service asked to keep serving for a while after SIGTERM (a rolling update's grace,
        # ADR 0040) is given that much longer before it is killed.
        self.stop_timeout = stop_timeout + _shutdown_delay_s({**os.environ, **self._extra_env})
        self.broker = TansuBroker(broker_port, self.log_dir / "broker.log", host=host)
        if "CASEWORK_CLOCK_START" in self._extra_env:
            # One shifted clock for the whole stack, restarts included: anchored now, not at each
            # process's own start (which would put every service at a different "now").
            self._extra_env.setdefault("CASEWORK_CLOCK_ANCHOR", datetime.now(UTC).isoformat())
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._replicas: dict[str, str] = {}  # instance name -> service
        self._started = False

    # ----- whole stack -------------------------------------------------------------------------

    def start(self) -> None:
        """Start broker, topics and every service; return once all report SERVING.

        On any failure (or Ctrl-C) whatever was started is stopped again before the error
        propagates.
        """
        if self._started:
            raise RuntimeError("stack already started")
        self._started = True
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if left := leftovers.stop_leftovers(self.data_dir, self.stop_timeout):
                log.warning("stopped what a stack on %s left running when it did not stop cleanly: %s",
                            self.data_dir, ", ".join(left))
            self._ensure_ports_free(self.services, include_broker=True)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.issuer = DevIssuer(DevIssuer.default_dir(self.data_dir))  # before any service reads its key
            for path in [self.broker.log_path, *map(self.log_path, self.services)]:
                path.write_bytes(b"")  # a fresh run starts fresh logs; the data stays
            self.start_broker()
            self._start_kcat_shim()
            log.info("starting %s", ", ".join(self.services))
            for name in self.services:
                self._spawn(name)
            self._wait_serving(self.services)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every service (SIGTERM, SIGKILL after `stop_timeout`), then the broker.
        Idempotent."""
        # Services first, so they can finish in-flight work against a broker that is still there.
        running = list(self._procs.items())
        self._procs.clear()
        for _, proc in running:
            procs.signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for name, proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %gs; killing it", name, self.stop_timeout)
                procs.kill(proc, signal.SIGKILL)
        if self._kcat_shim is not None:
            procs.terminate(self._kcat_shim, self.stop_timeout)
            self._kcat_shim = None
        self.broker.stop(self.stop_timeout)
        if self._recorded:  # never another stack's record (one this stack refused to start beside)
            leftovers.forget_record(self.data_dir)
            self._recorded = False
        self._started = False

    def check_alive(self) -> None:
        """Raise `ServiceFailed` / `BrokerFailed` if a child exited that nobody asked to stop."""
        for name, code in self.exited():
            raise self.failure(name, f"exited unexpectedly ({procs.describe_exit(code)})", code)

    def exited(self) -> list[tuple[str, int]]:
        """Children that exited without being asked to, each reported once as (name, exit code):
        services by instance name, `BROKER`, `KCAT_SHIM`. Each is then stopped for the stack's
        purposes: `restart` starts it again (`supervisor`)."""
        found: list[tuple[str, int]] = []
        if (code := self.broker.exit_code) is not None:
            self.broker.stop()  # reaps it; `start_broker` starts a fresh one
            found.append((BROKER, code))
        if self._kcat_shim is not None and (code := self._kcat_shim.poll()) is not None:
            self._kcat_shim = None
            found.append((KCAT_SHIM, code))
        for name, proc in list(self._procs.items()):
            if (code := proc.poll()) is not None:
                del self._procs[name]
                found.append((name, code))
        return found

    def restart(self, name: str) -> None:
        """Start again a child `exited` reported, and wait until it is ready: a service (SERVING),
        the broker (fresh and empty, every topic created again: the relays republish, ADR 0003)
        or the kcat shim. Raises `ServiceFailed` / `BrokerFailed` if it does not come up."""
        if name == BROKER:
            self.start_broker()
        elif name == KCAT_SHIM:
            self._start_kcat_shim()
        else:
            self.start_service(name)

    def failure(self, name: str, reason: str, exit_code: int | None = None) -> ServiceFailed | BrokerFailed:
        """The error naming a child (as `exited` names it) and the end of its log."""
        if name == BROKER:
            return BrokerFailed(self.broker.failure_message(reason))
        return ServiceFailed(name, reason, self.log_path("kcat-shim" if name == KCAT_SHIM else name), exit_code)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- one service -------------------------------------------------------------------------

    def start_service(self, name: str) -> None:
        """(Re)start one service and wait until it reports SERVING."""
        self._require_known(name)
        if self.is_running(name):
            raise RuntimeError(f"service {name} is already running")
        self._ensure_ports_free([name], include_broker=False)
        self._spawn(name)
        try:
            self._wait_serving([name])
        except BaseException:
            proc = self._procs.pop(name, None)
            if proc is not None:
                procs.terminate(proc, self.stop_timeout)
            raise

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send `sig` (default: kill -9, a crash) and reap the process. Returns its exit code."""
        self._require_known(name)
        proc = self._procs.pop(name, None)
        if proc is None:
            raise RuntimeError(f"service {name} is not running")
        return procs.kill(proc, sig, self.stop_timeout)

    def add_replica(self, service: str, grpc_port: int, metrics_port: int) -> str:
        """Start one more process of `service` on its own ports and wait until it is SERVING.
        Returns the instance name (`<service>@<n>`), usable with `kill_service`, `grpc_address`..."""
        self._require_known(service)
        n = 2 + sum(1 for s in self._replicas.values() if s == service)
        name = f"{service}@{n}"
        _check_distinct(self.broker.port, {**self.ports, name: (grpc_port, metrics_port)})
        self.services = (*self.services, name)
        self.ports[name] = (grpc_port, metrics_port)
        self._replicas[name] = service
        self.start_service(name)
        return name

    def service_of(self, name: str) -> str:
        """The service an instance runs (`referral@2` -> `referral`)."""
        return self._replicas.get(name, name)

    def setting(self, name: str) -> str | None:
        """A setting the stack gives every service beyond the defaults (e.g. its PostgreSQL DSN)."""
        return self._extra_env.get(name)

    def is_running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def pid(self, name: str) -> int | None:
        proc = self._procs.get(name)
        return proc.pid if proc is not None else None

    # ----- broker ------------------------------------------------------------------------------

    def stop_broker(self) -> None:
        """Stop the broker: every message and committed offset is lost (memory storage)."""
        self.broker.stop(self.stop_timeout)

    def start_broker(self) -> None:
        """Start a fresh, empty broker on the same port and create every topic again."""
        self.broker.start()
        self._record_run()
        self.broker.wait_ready(self.ready_timeout)
        run_sync(ensure_topics(self.broker.bootstrap, self.topics(), self.partitions, timeout_s=30))
        log.info("broker ready on %s with %d topics", self.broker.bootstrap, len(self.topics()))

    # ----- addresses ---------------------------------------------------------------------------

    def topics(self) -> list[str]:
        """Every service's event and dead-letter topics. All known services are included, so a
        partial stack's consumers still find the topics of the services not running."""
        names = dict.fromkeys([*topology.SERVICES, *map(self.service_of, self.services)])
        return [
            t for s in names for t in (topology.topic_for(s), topology.dead_letter_topic_for(s))
        ]

    def grpc_address(self, name: str) -> str:
        return f"{self.host}:{self.ports[name][0]}"

    def metrics_url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name][1]}/metrics"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def endpoints(self) -> list[Endpoint]:
        """One row per service, then the broker."""
        rows = [
            Endpoint(s, self.grpc_address(s), self.metrics_url(s), topology.topic_for(self.service_of(s)))
            for s in self.services
        ]
        rows.append(Endpoint("broker", self.broker.bootstrap, "", ""))
        if self.kcat_port:
            rows.append(Endpoint("broker for kcat", f"{self.host}:{self.kcat_port}", "", ""))
        return rows

    def child_env(self) -> dict[str, str]:
        """The environment every service process gets."""
        env = {**os.environ, **self._extra_env}
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.broker.bootstrap,
            CASEWORK_DATA_DIR=str(self.data_dir),
            KAFKA_TOPIC_PARTITIONS=str(self.partitions),
            PYTHONUNBUFFERED="1",  # so a crash's last words reach the log file
        )
        # Every service's ports, not only its own: a service may need to call another over gRPC.
        for name, (grpc_port, metrics_port) in self.ports.items():
            if name not in self._replicas:  # peers call a service's first instance
                env[f"{name.upper()}_GRPC_PORT"] = str(grpc_port)
                env[f"{name.upper()}_METRICS_PORT"] = str(metrics_port)
        return env

    # ----- internals ---------------------------------------------------------------------------

    def _spawn(self, name: str) -> None:
        service = self.service_of(name)
        env = self.child_env()
        grpc_port, metrics_port = self.ports[name]
        env[f"{service.upper()}_GRPC_PORT"] = str(grpc_port)
        env[f"{service.upper()}_METRICS_PORT"] = str(metrics_port)
        argv = [sys.executable, "-m", service]
        self._procs[name] = procs.spawn(argv, self.log_path(name), env, header=name)
        self._record_run()

    def _record_run(self) -> None:
        """Which processes are this stack's, for a stack started on the same data dir after this
        one's launcher died without stopping them (`leftovers`)."""
        children = {name: proc.pid for name, proc in self._procs.items()}
        if self.broker.pid is not None:
            children[BROKER] = self.broker.pid
        if self._kcat_shim is not None:
            children[KCAT_SHIM] = self._kcat_shim.pid
        leftovers.write_record(self.data_dir, children)
        self._recorded = True

    def _start_kcat_shim(self) -> None:
        if not self.kcat_port:
            return
        argv = [sys.executable, "-m", "caseplatform.devstack.apiversions_shim", str(self.kcat_port), str(self.broker.port)]
        self._kcat_shim = procs.spawn(argv, self.log_path("kcat-shim"), self.child_env(), header="kcat shim")
        self._record_run()
        deadline = time.monotonic() + self.ready_timeout
        while not port_open(self.host, self.kcat_port):
            if (code := self._kcat_shim.poll()) is not None or time.monotonic() > deadline:
                raise ServiceFailed(KCAT_SHIM, "did not start listening" if code is None else
                                    f"exited ({procs.describe_exit(code)})", self.log_path("kcat-shim"), code)
            time.sleep(0.05)

    def _ensure_ports_free(self, names: Sequence[str], *, include_broker: bool) -> None:
        if include_broker:
            ensure_port_free(self.broker.port, "Kafka broker", self.host)
            if self.kcat_port:
                ensure_port_free(self.kcat_port, "Kafka broker for kcat", self.host)
        for name in names:
            grpc_port, metrics_port = self.ports[name]
            ensure_port_free(grpc_port, f"{name} gRPC", self.host)
            ensure_port_free(metrics_port, f"{name} metrics", self.host)

    def _wait_serving(self, names: Sequence[str]) -> None:
        """Poll each service's gRPC health until all report SERVING, one dies, or time runs out."""
        started = time.monotonic()
        deadline = started + self.ready_timeout
        pending = list(names)
        last_answer = dict.fromkeys(names, "no answer yet")
        channels = {
            n: grpc.insecure_channel(self.grpc_address(n), options=_HEALTH_CHANNEL_OPTIONS)
            for n in names
        }
        try:
            while pending:
                for name in pending:
                    self._raise_if_exited(name, "before reporting SERVING")
                # Ask every pending service at once, so one slow starter does not delay the rest.
                timeout = min(1.0, max(0.05, deadline - time.monotonic()))
                calls = {name: _health_check(channels[name], timeout) for name in pending}
                for name, call in calls.items():
                    status = _status(call)
                    last_answer[name] = status
                    if status == "SERVING":
                        pending.remove(name)
                        log.info("%s SERVING after %.1fs", name, time.monotonic() - started)
                self.broker.check_alive()
                if pending and time.monotonic() >= deadline:
                    name = pending[0]
                    others = f" (also waiting for {', '.join(pending[1:])})" if pending[1:] else ""
                    reason = (
                        f"did not report SERVING within {self.ready_timeout:g}s "
                        f"(last health answer: {last_answer[name]}){others}"
                    )
                    raise ServiceFailed(name, reason, self.log_path(name), None)
                if pending:
                    time.sleep(0.1)
        finally:
            for channel in channels.values():
                channel.close()

    def _raise_if_exited(self, name: str, when: str) -> None:
        proc = self._procs[name]
        code = proc.poll()
        if code is not None:
            del self._procs[name]
            reason = f"exited {when} ({procs.describe_exit(code)})"
            raise ServiceFailed(name, reason, self.log_path(name), code)

    def _require_known(self, name: str) -> None:
        if name not in self.services:
            raise ValueError(
                f"unknown service {name!r}; this stack runs {', '.join(self.services)}"
            )


def _health_check(channel: grpc.Channel, timeout: float) -> grpc.Future:
    """Start an overall ("") health check; `wait_for_ready` rides out the connection attempts."""
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="")
    return stub.Check.future(request, timeout=timeout, wait_for_ready=True)


def _status(call: grpc.Future) -> str:
    """The status name a health check returned ("SERVING", ...), or the gRPC error code instead."""
    try:
        response = call.result()
    except grpc.RpcError as exc:
        return exc.code().name if isinstance(exc, grpc.Call) else repr(exc)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def _resolve_ports(
    services: Sequence[str], ports: Mapping[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    resolved: dict[str, tuple[int, int]] = {}
    for name in services:
        if name in ports:
            resolved[name] = (int(ports[name][0]), int(ports[name][1]))
        elif name in topology.DEFAULTS:
            default = topology.DEFAULTS[name]
            resolved[name] = (default.grpc_port, default.metrics_port)
        else:
            raise ValueError(f"no ports given for service {name!r} and it has no defaults")
    return resolved


def _check_distinct(broker_port: int, ports: Mapping[str, tuple[int, int]], kcat_port: int | None = None) -> None:
    seen: dict[int, str] = {broker_port: "Kafka broker"}
    if kcat_port:
        if kcat_port == broker_port:
            raise ValueError(f"port {kcat_port} is given to both the Kafka broker and the broker for kcat")
        seen[kcat_port] = "Kafka broker for kcat"
    for name, (grpc_port, metrics_port) in ports.items():
        for port, purpose in ((grpc_port, f"{name} gRPC"), (metrics_port, f"{name} metrics")):
            if port in seen:
                raise ValueError(f"port {port} is given to both {seen[port]} and {purpose}")
            seen[port] = purpose


def _shutdown_delay_s(env: Mapping[str, str]) -> float:
    """The services' `CASEWORK_SHUTDOWN_DELAY_S` (0 when unset; a value they would refuse stops
    them at start, with the reason, so it adds nothing here)."""
    try:
        return max(float(env.get("CASEWORK_SHUTDOWN_DELAY_S", "0")), 0.0)
    except ValueError:
        return 0.0
