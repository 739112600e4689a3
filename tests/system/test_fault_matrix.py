"""The fault matrix: under a steady load, kill -9 each service in turn, freeze each in turn, stop the broker for a
while (killed, or frozen), make a store read-only or its disk full for a moment, drop every PostgreSQL connection, crash the PostgreSQL server. Afterwards every
count reconciles — disclosures in =
cases in intake = timelines (and each downstream record) everywhere — with nothing applied twice,
and the relay and consumer lag exported on /metrics is back to (near) zero.

The load retries a refused submission with the same idempotency key, as a partner system
would: a retry after a crash must not become a second case."""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import grpc
import psycopg
import pytest

from caseplatform import topology
from caseplatform.devstack import postgres
from caseplatform.devstack.stack import DevStack
from caseplatform.testing import root_or_skip
from casework.intake.v1 import intake_pb2_grpc

from .client import Client, disclosure, eventually
from .test_faults import each_case_once_on_its_timeline, settled

pytestmark = pytest.mark.system

OwnStack = Callable[[], tuple[DevStack, Client]]
CrashablePostgres = tuple[postgres.PostgresServer, DevStack, Client]
BROKER_DOWN_S = float(os.environ.get("FAULT_BROKER_DOWN_S", "30"))
FROZEN_S = 12.0  # longer than a consumer's session (10 s): its group moves on without it


class Load:
    """A partner system sending disclosures at a steady pace until stopped."""

    def __init__(self, intake: intake_pb2_grpc.IntakeServiceStub, per_second: float = 20.0) -> None:
        self._intake = intake
        self._interval = 1 / per_second
        self._stop = threading.Event()
        self.case_ids: list[str] = []
        self.with_children = 0
        self.refusals: collections.Counter[grpc.StatusCode] = collections.Counter()  # retried, same key
        self.errors: list[str] = []  # what the first few refusals said
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            request = disclosure(children=1 if i % 5 < 2 else 0)
            while True:  # the same key until accepted: a retry is never a second case
                try:
                    self.case_ids.append(self._intake.SubmitDisclosure(request, metadata=_CHO, timeout=5).case_id)
                    break
                except grpc.RpcError as refused:
                    self.refusals[refused.code()] += 1
                    if len(self.errors) < 10:
                        self.errors.append(f"{refused.code().name}: {refused.details()}")  # type: ignore[attr-defined]
                    time.sleep(0.2)
            self.with_children += bool(request.children)
            i += 1
            time.sleep(self._interval)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.case_ids) < count:
            assert time.monotonic() < deadline, f"load stalled at {len(self.case_ids)}"
            time.sleep(0.05)


_CHO = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-7"))


def scrape(stack: DevStack, service: str) -> dict[str, float]:
    text = urllib.request.urlopen(stack.metrics_url(service), timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r"^(casework_(?:relay|consumer)_lag_\w+)(\{[^}]*\})? (\S+)$", line)
        if match:
            out[match[1] + (match[2] or "")] = float(match[3])
    return out


def lag_is_bounded(stack: DevStack, consumer_bound: int = 5) -> None:
    """After recovery: every relay has published all it stored, every consumer is (nearly) at the
    end of each partition it reads. Asserted on what Prometheus would scrape."""
    def check() -> None:
        for service in stack.services:
            series = scrape(stack, service)
            relay = [v for k, v in series.items() if k.startswith("casework_relay_lag_events")]
            assert relay == [0.0], (service, series)
            consumer = {k: v for k, v in series.items() if k.startswith("casework_consumer_lag_messages")}
            if topology.SUBSCRIPTIONS.get(service):
                assert consumer, (service, "no consumer lag exported")
            assert all(v <= consumer_bound for v in consumer.values()), (service, consumer)

    eventually(check, timeout=60, interval=1)


def reconciles(client: Client, load: Load) -> None:
    assert len(set(load.case_ids)) == len(load.case_ids)
    settled(client, len(load.case_ids), load.with_children, timeout=180)
    each_case_once_on_its_timeline(client, load.case_ids)


def test_each_service_killed_in_turn_under_load(own_stack: OwnStack) -> None:
    stack, client = own_stack()
    with Load(client.intake) as load:
        for n, service in enumerate(topology.SERVICES, start=1):
            load.wait_for(15 * n)
            stack.kill_service(service)  # kill -9: no goodbye
            time.sleep(0.5)
            stack.start_service(service)
        load.wait_for(15 * (len(topology.SERVICES) + 1))
    reconciles(client, load)
    lag_is_bounded(stack)


# A hang is a process's fault and the broker's, not the store's: kill -9 and the broker stopped
# (above and below) run on both stores; the frozen cases run on PostgreSQL, the deployment's store
# (each is a minute and a half of the suite's 30-minute budget).
ON_POSTGRES = pytest.mark.parametrize(
    "persistence", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@ON_POSTGRES
def test_each_service_frozen_in_turn_under_load(own_stack: OwnStack) -> None:
    """A service that hangs rather than dies (kill -STOP for longer than its consumer's session:
    its partitions go to no one, calls to it wait), then carries on where it was (-CONT)."""
    stack, client = own_stack()
    with Load(client.intake) as load:
        for n, service in enumerate(topology.SERVICES, start=1):
            load.wait_for(15 * n)
            pid = stack.pid(service)
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(FROZEN_S)
            finally:
                os.kill(pid, signal.SIGCONT)
            assert stack.pid(service) == pid
        load.wait_for(15 * (len(topology.SERVICES) + 1))
    # While intake hung, the partner's calls ran out of time and were sent again, same key: the
    # first copy may still be applied when intake wakes, beside the retry. One case each.
    assert load.refusals[grpc.StatusCode.DEADLINE_EXCEEDED] > 0
    reconciles(client, load)
    lag_is_bounded(stack)


@pytest.mark.slow
def test_broker_stopped_mid_load(own_stack: OwnStack) -> None:
    stack, client = own_stack()
    with Load(client.intake) as load:
        load.wait_for(20)
        stack.stop_broker()  # memory storage: every message and offset is gone
        taken = len(load.case_ids)
        time.sleep(BROKER_DOWN_S)
        assert len(load.case_ids) > taken  # intake kept taking disclosures meanwhile
        stack.start_broker()
        load.wait_for(len(load.case_ids) + 20)
    reconciles(client, load)
    lag_is_bounded(stack)


@pytest.mark.slow
@ON_POSTGRES
def test_broker_frozen_mid_load(own_stack: OwnStack) -> None:
    """A broker that hangs rather than dies (kill -STOP: a long pause, a host stalled, a network
    that drops packets without resetting): connections stay open and nothing answers. Clients
    must time out and keep trying, and carry on where they were once it answers again."""
    stack, client = own_stack()
    pid = stack.broker.pid
    assert pid is not None
    with Load(client.intake) as load:
        load.wait_for(20)
        os.kill(pid, signal.SIGSTOP)
        try:
            taken = len(load.case_ids)
            time.sleep(BROKER_DOWN_S)
            assert len(load.case_ids) > taken  # intake kept taking disclosures meanwhile
        finally:
            os.kill(pid, signal.SIGCONT)
        load.wait_for(len(load.case_ids) + 20)
    assert stack.broker.pid == pid  # the same broker, its messages and offsets kept
    reconciles(client, load)
    lag_is_bounded(stack)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a SQLite store (file, WAL and folder) unwritable, for root too (immutable flag)."""
    files = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    targets = [*files, path.parent]
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "+i", *map(str, targets)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, targets)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in targets}
        for p in targets:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)


@pytest.mark.parametrize("service", ["intake", "reporting"])
def test_a_store_read_only_for_a_moment(own_stack: OwnStack, service: str) -> None:
    stack, client = own_stack()
    with Load(client.intake) as load:
        load.wait_for(20)
        with read_only(stack.data_dir / service / "events.sqlite"):
            time.sleep(3)
        load.wait_for(len(load.case_ids) + 20)
    for name in stack.services:
        assert stack.is_running(name), f"{name} died of a read-only store"
    assert set(load.refusals) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, load.refusals
    reconciles(client, load)
    lag_is_bounded(stack)


@contextmanager
def small_disk(folder: Path, size_mb: int = 64) -> Iterator[Path]:
    """A disk of its own for a service's folder (a tmpfs, mounted before the service starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@contextmanager
def full(disk: Path) -> Iterator[None]:
    """Fill the disk to the last byte, then free it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(bytes(1 << 16))
        except OSError:
            pass  # ENOSPC: full
    try:
        yield
    finally:
        filler.unlink()


def test_a_full_disk_for_a_moment(own_stack: OwnStack, tmp_path: Path, persistence: str) -> None:
    """Intake's and reporting's disks full for 3 s under load. On SQLite their stores cannot
    write: intake answers UNAVAILABLE (the partner retries with the same key), reporting's inbox
    retries its batch. On PostgreSQL only their local files (traces) are refused, which must not
    stop them. Afterwards everything reconciles."""
    root_or_skip("mounting a small disk", "mount")
    data_dir = tmp_path / "stack0" / "var"  # where own_stack's first stack keeps its data
    with small_disk(data_dir / "intake") as intake_disk, small_disk(data_dir / "reporting") as reporting_disk:
        stack, client = own_stack()
        assert stack.data_dir == data_dir
        with Load(client.intake) as load:
            load.wait_for(20)
            with full(intake_disk), full(reporting_disk):
                time.sleep(3)
                refused_meanwhile = sum(load.refusals.values())
            load.wait_for(len(load.case_ids) + 20)
        for name in stack.services:
            assert stack.is_running(name), f"{name} died of a full disk"
        assert set(load.refusals) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, load.refusals
        if persistence == "sqlite":
            assert refused_meanwhile > 0, "intake accepted disclosures it could not store"
        reconciles(client, load)
        lag_is_bounded(stack)
        stack.stop()  # before the disks go


@pytest.mark.postgres
def test_postgresql_crashed_for_ten_seconds_mid_load(crashable_postgres: CrashablePostgres) -> None:
    """The database server itself down (stopped as by a crash, then crash recovery), not only its
    connections: every pool, the relay leases and reporting's listener connect again once it is
    back, and the disclosures taken before and after reconcile."""
    server, stack, client = crashable_postgres
    with Load(client.intake) as load:
        load.wait_for(20)
        with server.crashed():
            time.sleep(10)
        load.wait_for(len(load.case_ids) + 20, timeout=120)
    for name in stack.services:
        assert stack.is_running(name), f"{name} died while its database was down"
    assert set(load.refusals) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, load.refusals
    assert load.refusals, "intake took disclosures with its database down"
    reconciles(client, load)
    lag_is_bounded(stack)


def dead_letters(stack: DevStack) -> dict[str, float]:
    """Events each consuming service set aside, by /metrics (dead-lettered since it started, and
    pending replay in its store)."""
    found: dict[str, float] = {}
    for service in stack.services:
        text = urllib.request.urlopen(stack.metrics_url(service), timeout=5).read().decode()
        for line in text.splitlines():
            if line.startswith("casework_events_consumed_total{") and 'outcome="dead_lettered"' in line \
                    or line.startswith("casework_dead_letters_pending{"):
                found[f"{service} {line.rsplit(' ', 1)[0]}"] = float(line.rsplit(" ", 1)[1])
    return {k: v for k, v in found.items() if v}


def drop_connections(dsn: str) -> int:
    """What a PostgreSQL failover or restart does to the services: every connection of theirs
    to the database is closed under them."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        return len(admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall())


@ON_POSTGRES
def test_postgresql_drops_every_connection_mid_load(own_stack: OwnStack) -> None:
    # A connection lost under a policy's read is the store's fault, not the event's: nothing may be
    # dead-lettered for it (ADR 0039), and every service reconnects by itself.
    stack, client = own_stack()
    dsn = stack.setting("CASEWORK_POSTGRES_DSN")
    assert dsn
    with Load(client.intake) as load:
        load.wait_for(20)
        dropped = 0
        for _ in range(6):  # over ~3 s, so some land mid-transaction and some on idle pooled ones
            dropped += drop_connections(dsn)
            time.sleep(0.5)
        assert dropped >= len(stack.services)
        load.wait_for(len(load.case_ids) + 20)
    for name in stack.services:
        assert stack.is_running(name), f"{name} died of a dropped connection"
    # A partner whose submission met a dropped connection was told to retry, not of an internal error.
    assert set(load.refusals) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, load.refusals
    reconciles(client, load)
    lag_is_bounded(stack)
    assert dead_letters(stack) == {}
