"""The local stack: Tansu broker, topic administration, service processes and `make run`'s launcher.

Service processes here are tiny fakes written to tmp_path (gRPC health only), so these tests do not
depend on the real services. Every port is a free one, never a default.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform import topology
from caseplatform.devstack import (
    DevStack,
    Endpoint,
    PortInUse,
    ServiceFailed,
    TansuBroker,
    ensure_port_free,
    free_port,
    free_ports,
)
from caseplatform.devstack.__main__ import ConfigError, format_table, settings_from_env
from caseplatform.kafka import BrokerUnavailable, ensure_topics
from caseplatform.testing import launched_devstack

system = pytest.mark.system
T = TypeVar("T")

# A stand-in service: serves gRPC health on <NAME>_GRPC_PORT and notes what it was given.
FAKE_SERVICE = """
import asyncio, os, pathlib, signal
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

NAME = __spec__.name
STATUS = health_pb2.HealthCheckResponse.{status}


async def main():
    port = int(os.environ[f"{{NAME.upper()}}_GRPC_PORT"])
    data = pathlib.Path(os.environ["CASEWORK_DATA_DIR"]) / NAME
    data.mkdir(parents=True, exist_ok=True)
    (data / "bootstrap").write_text(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    (data / "pid").write_text(str(os.getpid()))
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{{port}}")
    await server.start()
    await servicer.set("", STATUS)
    print(f"{{NAME}} listening on {{port}}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


asyncio.run(main())
"""

CRASHING_SERVICE = """
print("boom: cannot open the event store", flush=True)
raise SystemExit(3)
"""


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    """A folder for PYTHONPATH with fake services: alpha, beta (healthy), crashy, sulky."""
    folder = tmp_path / "fakes"
    folder.mkdir()
    for name in ("alpha", "beta"):
        (folder / f"{name}.py").write_text(FAKE_SERVICE.format(status="SERVING"))
    (folder / "sulky.py").write_text(FAKE_SERVICE.format(status="NOT_SERVING"))
    (folder / "crashy.py").write_text(CRASHING_SERVICE)
    return folder


@pytest.fixture
def make_stack(tmp_path: Path, fakes: Path) -> Iterator[Callable[..., DevStack]]:
    """Build stacks of fake services on free ports; every one is stopped at the end."""
    stacks: list[DevStack] = []

    def make(*services: str, **kwargs: object) -> DevStack:
        ports = free_ports(1 + 2 * len(services))
        stack = DevStack(
            tmp_path / "var",
            ports[0],
            {s: (ports[1 + 2 * i], ports[2 + 2 * i]) for i, s in enumerate(services)},
            {"PYTHONPATH": _pythonpath(fakes)},
            services=services,
            **kwargs,  # type: ignore[arg-type]
        )
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


# ----- broker and topics ----------------------------------------------------------------------


@system
async def test_broker_restart_loses_every_message(tmp_path: Path) -> None:
    broker = TansuBroker(free_port(), tmp_path / "broker.log")
    try:
        broker.start()
        broker.wait_ready(30)
        assert broker.is_running
        await ensure_topics(broker.bootstrap, ["t.events.v1"], 3)
        await _produce(broker.bootstrap, "t.events.v1", b"hello")
        assert await _consume(broker.bootstrap, "t.events.v1", expect=1) == [b"hello"]

        broker.stop()
        assert not broker.is_running
        broker.start()
        broker.wait_ready(30)

        assert "t.events.v1" not in await _list_topics(broker.bootstrap)
        await ensure_topics(broker.bootstrap, ["t.events.v1"], 3)
        assert await _consume(broker.bootstrap, "t.events.v1", expect=0) == []
    finally:
        broker.stop()


@system
async def test_ensure_topics_is_idempotent_and_keeps_the_partition_count(tmp_path: Path) -> None:
    broker = TansuBroker(free_port(), tmp_path / "broker.log")
    try:
        broker.start()
        broker.wait_ready(30)
        topics = ["a.events.v1", "a.deadletter.v1"]
        await ensure_topics(broker.bootstrap, topics, 3)
        await ensure_topics(broker.bootstrap, topics, 3)
        await ensure_topics(broker.bootstrap, [*topics, "b.events.v1"], 2)

        counts = await _partition_counts(broker.bootstrap, [*topics, "b.events.v1"])
        assert counts == {"a.events.v1": 3, "a.deadletter.v1": 3, "b.events.v1": 2}
    finally:
        broker.stop()


@system
async def test_ensure_topics_gives_up_in_time_without_a_broker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="did not"):
        await ensure_topics(f"127.0.0.1:{free_port()}", ["x.events.v1"], 3, timeout_s=1.5)
    assert time.monotonic() - started < 10
    noise = [r for r in caplog.records if r.name.startswith("aiokafka")]
    assert noise == [], "refused connections while retrying are expected, not worth logging"


@system
def test_broker_refuses_a_taken_port(tmp_path: Path) -> None:
    with _listening_socket() as port:
        broker = TansuBroker(port, tmp_path / "broker.log")
        with pytest.raises(PortInUse, match=str(port)):
            broker.start()
        assert not broker.is_running


# ----- the stack --------------------------------------------------------------------------------


@system
def test_stack_starts_services_that_report_serving(
    make_stack: Callable[..., DevStack], tmp_path: Path
) -> None:
    stack = make_stack("alpha", "beta")
    with stack:
        for name in ("alpha", "beta"):
            assert _health(stack.grpc_address(name)) == "SERVING"
            assert (tmp_path / "var" / name / "bootstrap").read_text() == stack.broker.bootstrap
        counts = _run(_partition_counts(stack.broker.bootstrap, stack.topics()))
        assert set(counts.values()) == {3}
        for name in (*topology.SERVICES, "alpha"):
            assert topology.topic_for(name) in counts
            assert topology.dead_letter_topic_for(name) in counts
        rows = stack.endpoints()
        assert [r.name for r in rows] == ["alpha", "beta", "broker"]
        assert rows[0].address == stack.grpc_address("alpha")
        assert rows[0].metrics == f"http://127.0.0.1:{stack.ports['alpha'][1]}/metrics"
        assert rows[0].topic == "alpha.events.v1"
    assert not stack.broker.is_running
    assert not stack.is_running("alpha")
    ensure_port_free(stack.broker.port, "broker after stop")  # nothing left behind


@system
def test_kill_service_then_start_it_again(make_stack: Callable[..., DevStack]) -> None:
    stack = make_stack("alpha", "beta")
    stack.start()

    assert stack.kill_service("alpha") == -signal.SIGKILL
    assert not stack.is_running("alpha")
    assert _health(stack.grpc_address("alpha")) == "UNAVAILABLE"
    stack.check_alive()  # a kill that was asked for is not a failure
    assert _health(stack.grpc_address("beta")) == "SERVING"

    stack.start_service("alpha")
    assert _health(stack.grpc_address("alpha")) == "SERVING"
    with pytest.raises(RuntimeError, match="already running"):
        stack.start_service("alpha")


@system
def test_an_unexpected_death_is_reported(make_stack: Callable[..., DevStack]) -> None:
    stack = make_stack("alpha")
    stack.start()
    pid = stack.pid("alpha")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    with pytest.raises(ServiceFailed, match="alpha exited unexpectedly") as failure:
        while time.monotonic() < deadline:
            stack.check_alive()
            time.sleep(0.05)
    assert failure.value.exit_code == -signal.SIGKILL
    assert "killed by SIGKILL" in str(failure.value)


@system
def test_a_crashing_service_is_named_with_its_log(make_stack: Callable[..., DevStack]) -> None:
    stack = make_stack("alpha", "crashy")
    with pytest.raises(ServiceFailed) as failure:
        stack.start()
    message = str(failure.value)
    assert failure.value.service == "crashy"
    assert "exit code 3" in message
    assert "boom: cannot open the event store" in message
    assert not stack.broker.is_running, "a failed start stops what it started"
    assert not stack.is_running("alpha")


@system
def test_a_service_that_never_serves_times_out(make_stack: Callable[..., DevStack]) -> None:
    stack = make_stack("sulky", ready_timeout=3)
    with pytest.raises(ServiceFailed, match=r"sulky did not report SERVING within 3s") as failure:
        stack.start()
    assert "NOT_SERVING" in str(failure.value)
    assert not stack.is_running("sulky")


@system
def test_stack_broker_restart_is_fresh_with_topics(make_stack: Callable[..., DevStack]) -> None:
    stack = make_stack("alpha")
    stack.start()
    _run(_produce(stack.broker.bootstrap, "alpha.events.v1", b"before"))

    stack.stop_broker()
    assert not stack.broker.is_running
    stack.check_alive()  # a stop that was asked for is not a failure
    stack.start_broker()

    assert _run(_consume(stack.broker.bootstrap, "alpha.events.v1", expect=0)) == []
    assert "alpha.events.v1" in _run(_list_topics(stack.broker.bootstrap))
    assert _health(stack.grpc_address("alpha")) == "SERVING"


@system
def test_stack_refuses_a_taken_service_port(make_stack: Callable[..., DevStack]) -> None:
    stack = make_stack("alpha")
    with (
        _listening_socket(stack.ports["alpha"][1]),
        pytest.raises(PortInUse, match="alpha metrics"),
    ):
        stack.start()
    assert not stack.broker.is_running


# ----- `python -m caseplatform.devstack` ------------------------------------------------------


@system
def test_launcher_prints_the_table_and_stops_cleanly_on_sigint(tmp_path: Path, fakes: Path) -> None:
    env, ports = _launcher_env(tmp_path, fakes)
    with _launcher(env, tmp_path) as (proc, output):
        text = _wait_for(output, "Ctrl-C stops everything", proc)
        assert f"127.0.0.1:{ports['ALPHA_GRPC_PORT']}" in text
        assert f"http://127.0.0.1:{ports['BETA_METRICS_PORT']}/metrics" in text
        assert "alpha.events.v1" in text
        rows = {}
        for cells in (line.split() for line in text.splitlines()):
            at = next((i for i, cell in enumerate(cells) if cell.startswith("127.0.0.1:")), None)
            if at:
                rows[" ".join(cells[:at])] = cells[at]
        assert rows["broker"] == f"127.0.0.1:{ports['BROKER_PORT']}"
        assert rows["broker for kcat"] == f"127.0.0.1:{ports['KCAT_PORT']}"
        # A Kafka client that starts at the kcat port is kept there: the shim names itself as the broker.
        assert asyncio.run(_brokers_seen_from(f"127.0.0.1:{ports['KCAT_PORT']}")) == {ports["KCAT_PORT"]}

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, output.read_text()
    assert "stopped" in output.read_text()
    for port in ports.values():
        ensure_port_free(port, "after the launcher stopped")
    assert (tmp_path / "var" / "alpha" / "pid").exists(), "data is kept"


@system
def test_launcher_starts_again_whatever_dies(tmp_path: Path, fakes: Path) -> None:
    """As Kubernetes would: a service, the broker and the kcat shim killed -9 come back by themselves."""
    env, ports = _launcher_env(tmp_path, fakes)
    record = tmp_path / "var" / "devstack.pids.json"
    with _launcher(env, tmp_path) as (proc, output):
        _wait_for(output, "a process that dies is started again", proc)
        first = json.loads(record.read_text())["children"]
        beta = int((tmp_path / "var" / "beta" / "pid").read_text())
        os.kill(beta, signal.SIGKILL)
        os.kill(first["broker"]["pid"], signal.SIGKILL)  # memory storage: it comes back empty
        os.kill(first["kcat shim"]["pid"], signal.SIGKILL)
        for name in ("beta", "broker", "kcat shim"):
            text = _wait_for(output, f"{name} started again (restart 1)", proc)
            assert f"{name} exited unexpectedly (killed by SIGKILL); starting it again" in text
        assert proc.poll() is None, "the launcher carries on"

        assert _health(f"127.0.0.1:{ports['BETA_GRPC_PORT']}") == "SERVING"
        assert int((tmp_path / "var" / "beta" / "pid").read_text()) != beta
        bootstrap = f"127.0.0.1:{ports['BROKER_PORT']}"
        assert {"alpha.events.v1", "beta.events.v1"} <= set(_run(_list_topics(bootstrap))), "topics made again"
        assert _run(_brokers_seen_from(f"127.0.0.1:{ports['KCAT_PORT']}")) == {ports["KCAT_PORT"]}
        # A launcher killed now leaves a record of the new processes, not of the dead ones.
        now = json.loads(record.read_text())["children"]
        assert {name: now[name]["pid"] == first[name]["pid"] for name in now} == {
            "alpha": True, "beta": False, "broker": False, "kcat shim": False}

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, output.read_text()
    for port in ports.values():
        ensure_port_free(port, "after the launcher stopped")


@system
def test_launcher_with_restarts_off_stops_when_a_service_dies(tmp_path: Path, fakes: Path) -> None:
    env, ports = _launcher_env(tmp_path, fakes)
    env["CASEWORK_RESTART"] = "never"
    with _launcher(env, tmp_path) as (proc, output):
        _wait_for(output, "a process that dies stops the stack (CASEWORK_RESTART=never)", proc)
        _wait_for(output, "Ctrl-C stops everything", proc)
        os.kill(int((tmp_path / "var" / "beta" / "pid").read_text()), signal.SIGKILL)
        assert proc.wait(60) == 1
    text = output.read_text()
    assert "service beta exited unexpectedly (killed by SIGKILL)" in text
    assert str(tmp_path / "var" / "logs" / "beta.log") in text
    ensure_port_free(ports["BROKER_PORT"], "broker after the launcher stopped")


@system
def test_closing_the_terminal_stops_the_stack_cleanly(tmp_path: Path, fakes: Path) -> None:
    env, ports = _launcher_env(tmp_path, fakes)
    with _launcher(env, tmp_path) as (proc, output):
        _wait_for(output, "Ctrl-C stops everything", proc)
        proc.send_signal(signal.SIGHUP)  # what a closed terminal sends; the children are out of its reach
        assert proc.wait(60) == 0, output.read_text()
    assert "SIGHUP received, stopping" in output.read_text()
    for port in ports.values():
        ensure_port_free(port, "after the terminal closed")
    assert not (tmp_path / "var" / "devstack.pids.json").exists()

    # Started with `nohup`, it is meant to outlive the terminal: the hang-up stays ignored.
    with _launcher(env, tmp_path, "nohup.out", ignore_hangup=True) as (proc, output):
        _wait_for(output, "Ctrl-C stops everything", proc)
        proc.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(3)


@system
def test_what_a_killed_launcher_left_running_is_stopped_by_the_next_one(tmp_path: Path, fakes: Path) -> None:
    env, ports = _launcher_env(tmp_path, fakes)
    with _launcher(env, tmp_path) as (first, output):
        _wait_for(output, "Ctrl-C stops everything", first)
        left = [entry["pid"] for entry in json.loads((tmp_path / "var" / "devstack.pids.json").read_text())["children"].values()]
        assert len(left) == 4  # alpha, beta, the broker, the kcat shim
        # A second stack on the same data dir while the first runs is refused, the first untouched.
        with _launcher(env, tmp_path, "second.out") as (second, second_output):
            assert second.wait(60) == 2
        assert f"another stack (launcher pid {first.pid}) is running on" in second_output.read_text()
        assert all(_running(pid) for pid in left)
        first.kill()  # kill -9: nothing stops its children
        first.wait(10)
    assert all(_running(pid) for pid in left)
    with _launcher(env, tmp_path, "third.out") as (third, third_output):
        text = _wait_for(third_output, "Ctrl-C stops everything", third)
        assert "left running when it did not stop cleanly: alpha, beta, broker, kcat shim" in text
        assert not any(_running(pid) for pid in left)
        third.send_signal(signal.SIGINT)
        assert third.wait(60) == 0, third_output.read_text()
    for port in ports.values():
        ensure_port_free(port, "after the third launcher stopped")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@system
def test_launcher_says_plainly_that_a_port_is_taken(tmp_path: Path, fakes: Path) -> None:
    env, ports = _launcher_env(tmp_path, fakes)
    with _listening_socket(ports["BROKER_PORT"]), _launcher(env, tmp_path) as (proc, output):
        assert proc.wait(60) == 2
    text = output.read_text()
    assert f"port {ports['BROKER_PORT']} on 127.0.0.1 (Kafka broker) is already in use" in text
    assert "Traceback" not in text


# ----- configuration (no processes) ----------------------------------------------------------


def test_settings_default_to_the_six_services_and_their_ports() -> None:
    settings = settings_from_env({})
    assert settings.services == topology.SERVICES
    assert settings.broker_port == 9092
    assert settings.kcat_port == 9093
    assert settings_from_env({"KCAT_PORT": "0"}).kcat_port is None  # no shim
    with pytest.raises(ConfigError, match="KCAT_PORT must be a port number"):
        settings_from_env({"KCAT_PORT": "70000"})
    with pytest.raises(ValueError, match="port 9092 is given to both the Kafka broker and the broker for kcat"):
        DevStack(Path("var"), 9092, kcat_port=9092)
    assert settings.data_dir == Path("var")
    assert settings.ports["intake"] == (50051, 9101)
    assert settings.restart
    assert not settings_from_env({"CASEWORK_RESTART": "Never"}).restart
    with pytest.raises(ConfigError, match="CASEWORK_RESTART must be 'always' or 'never', got 'sometimes'"):
        settings_from_env({"CASEWORK_RESTART": "sometimes"})


def test_a_service_kept_serving_after_sigterm_is_given_that_long_before_it_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASEWORK_SHUTDOWN_DELAY_S", raising=False)
    assert DevStack(tmp_path, 19092).stop_timeout == 10.0
    assert DevStack(tmp_path, 19092, env={"CASEWORK_SHUTDOWN_DELAY_S": "5"}).stop_timeout == 15.0
    monkeypatch.setenv("CASEWORK_SHUTDOWN_DELAY_S", "7.5")  # as `make run` passes the user's environment on
    assert DevStack(tmp_path, 19092, stop_timeout=2).stop_timeout == 9.5
    assert DevStack(tmp_path, 19092, env={"CASEWORK_SHUTDOWN_DELAY_S": "soon"}).stop_timeout == 10.0


def test_settings_read_the_testing_service_list_and_reject_bad_ports() -> None:
    env = {"CASEWORK_SERVICES": "alpha, beta", "ALPHA_GRPC_PORT": "1", "ALPHA_METRICS_PORT": "2"}
    with pytest.raises(ConfigError, match="BETA_GRPC_PORT is not set"):
        settings_from_env(env)
    env |= {"BETA_GRPC_PORT": "3", "BETA_METRICS_PORT": "http"}
    with pytest.raises(ConfigError, match="BETA_METRICS_PORT must be a whole number"):
        settings_from_env(env)
    env["BETA_METRICS_PORT"] = "4"
    assert settings_from_env(env).ports == {"alpha": (1, 2), "beta": (3, 4)}


def test_table_aligns_columns() -> None:
    table = format_table(
        [Endpoint("intake", "h:1", "http://h:2/metrics", "t"), Endpoint("broker", "h:3", "", "")]
    )
    assert table.splitlines() == [
        "SERVICE  ADDRESS  METRICS             TOPIC",
        "intake   h:1      http://h:2/metrics  t",
        "broker   h:3      -                   -",
    ]


# ----- helpers ------------------------------------------------------------------------------------


async def _brokers_seen_from(bootstrap: str) -> set[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()
        return {broker.port for broker in consumer._client.cluster.brokers()}
    finally:
        await consumer.stop()


def _pythonpath(*folders: Path) -> str:
    return os.pathsep.join([*map(str, folders), *filter(None, [os.environ.get("PYTHONPATH")])])


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _health(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        except grpc.RpcError as exc:
            return exc.code().name  # type: ignore[attr-defined]
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


@contextlib.contextmanager
def _listening_socket(port: int | None = None) -> Iterator[int]:
    """Occupy a port (a free one if none given) for the duration of a `with` block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port or 0))
        sock.listen()
        yield sock.getsockname()[1]


async def _list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def _partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"case-1")
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, *, expect: int, wait_s: float = 3) -> list[bytes]:
    """Everything on `topic` from the start: stops at `expect` messages, or after `wait_s`."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and (expect == 0 or len(values) < expect):
            batches = await consumer.getmany(timeout_ms=200)
            values += [r.value for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return values


def _launcher_env(tmp_path: Path, fakes: Path) -> tuple[dict[str, str], dict[str, int]]:
    keys = [
        "BROKER_PORT",
        "KCAT_PORT",
        "ALPHA_GRPC_PORT",
        "ALPHA_METRICS_PORT",
        "BETA_GRPC_PORT",
        "BETA_METRICS_PORT",
    ]
    ports = dict(zip(keys, free_ports(len(keys)), strict=True))
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "CASEWORK_SERVICES": "alpha,beta",
        "CASEWORK_DATA_DIR": str(tmp_path / "var"),
        "PYTHONPATH": _pythonpath(fakes),
    }
    return env, ports


@contextlib.contextmanager
def _launcher(
    env: dict[str, str], tmp_path: Path, output_name: str = "launcher.out", *, ignore_hangup: bool = False
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`python -m caseplatform.devstack` with output in a file; stopped (politely first) on exit.
    `ignore_hangup`: started as `nohup` starts it, SIGHUP ignored."""
    output = tmp_path / output_name
    with launched_devstack(env, tmp_path, output, nohup=ignore_hangup) as proc:
        yield proc, output


def _wait_for(output: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = output.read_text()
        if text in content:
            return content
        if proc.poll() is not None:
            pytest.fail(f"launcher exited ({proc.returncode}) before printing {text!r}:\n{content}")
        time.sleep(0.1)
    pytest.fail(f"launcher did not print {text!r} within {timeout}s:\n{output.read_text()}")
