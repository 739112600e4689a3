from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from caseplatform import topology
from caseplatform.devstack import postgres
from caseplatform.devstack.ports import free_ports
from caseplatform.devstack.stack import DevStack
from caseplatform.testing import skip_unless_required

from .client import Client, clear_of_midnight

# The shared stack lives on Good Friday 2027, 17:40 in London (GMT until the 28th), time passing from
# there: deadlines across the Easter bank holidays are checked on the real stack.
GOOD_FRIDAY_1740 = "2027-03-26T17:40:00+00:00"


def new_stack(tmp: Path, **env: str) -> DevStack:
    ports = free_ports(1 + 2 * len(topology.SERVICES))
    return DevStack(
        data_dir=tmp / "var",
        broker_port=ports[0],
        ports={name: (ports[1 + 2 * i], ports[2 + 2 * i]) for i, name in enumerate(topology.SERVICES)},
        env={"CASEWORK_TRACES": "file", **env},
    )


_POSTGRES_REPORT: list[str] = []


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def persistence(request: pytest.FixtureRequest) -> str:
    """Every system test runs on both stores: SQLite files and PostgreSQL (schema per service).
    Without a PostgreSQL server (see `caseplatform.devstack.postgres`) the PostgreSQL pass is
    skipped and the run says so, unless it is required (CI=true or CASEWORK_REQUIRE_POSTGRES=1)."""
    if request.param == "postgres":
        try:
            server = postgres.shared_server()
        except postgres.PostgresUnavailable as exc:
            message = f"PostgreSQL pass did not run: {exc}"
            _POSTGRES_REPORT[:] = [message]
            skip_unless_required(message, postgres.required())
        _POSTGRES_REPORT[:] = [f"PostgreSQL pass ran against the {server.origin} server"]
    return str(request.param)


@contextmanager
def store_env(persistence: str) -> Iterator[dict[str, str]]:
    """The services' store settings: SQLite under the stack's data dir, or a fresh database."""
    if persistence == "sqlite":
        yield {}
        return
    server = postgres.shared_server()
    dsn = server.create_database()
    try:
        # Smaller pools than a deployment's (5, growing to 15 per process): the session's stack and
        # a test's own stack run side by side against one server, and the machine's server allows
        # 100 connections in all (two stacks at the defaults reached it under the fault load).
        yield {"CASEWORK_PERSISTENCE": "postgres", "CASEWORK_POSTGRES_DSN": dsn,
               "CASEWORK_POSTGRES_POOL_SIZE": "1", "CASEWORK_POSTGRES_MAX_OVERFLOW": "4"}
    finally:
        server.drop_database(dsn)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _POSTGRES_REPORT:
        terminalreporter.write_line(line, yellow="did not" in line, green="did not" not in line)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, persistence: str) -> Iterator[DevStack]:
    """The whole system, started the way `make run` starts it, shared by read-mostly tests."""
    with store_env(persistence) as env, new_stack(
        tmp_path_factory.mktemp(f"stack-{persistence}"), CASEWORK_CLOCK_START=GOOD_FRIDAY_1740, **env
    ) as running:
        yield running


@pytest.fixture(scope="session")
def client(stack: DevStack) -> Iterator[Client]:
    c = Client(stack)
    yield c
    c.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A private stack runs on real time and its tests expect no breach, so they start clear of
    London's midnight. The wait happens here, outside the test, so that it does not count
    against the test's timeout (pytest-timeout starts its timer inside this hook)."""
    if "real_time" in getattr(item, "fixturenames", ()):
        clear_of_midnight()
    yield


@pytest.fixture
def crashable_postgres(tmp_path: Path, real_time: None) -> Iterator[tuple[postgres.PostgresServer, DevStack, Client]]:
    """A stack on a PostgreSQL cluster of its own, which the test may crash (`crashed()`)."""
    try:
        server = postgres.throwaway_server()
    except postgres.PostgresUnavailable as exc:
        skip_unless_required(f"no cluster to crash: {exc}", postgres.required())
    try:
        env = {"CASEWORK_PERSISTENCE": "postgres", "CASEWORK_POSTGRES_DSN": server.create_database(),
               "CASEWORK_POSTGRES_POOL_SIZE": "1", "CASEWORK_POSTGRES_MAX_OVERFLOW": "4"}
        with new_stack(tmp_path / "stack", **env) as running:
            client = Client(running)
            try:
                yield server, running, client
            finally:
                client.close()
    finally:
        server.stop()


@pytest.fixture
def real_time() -> None:
    """A test whose stack runs on real time (`pytest_runtest_protocol` starts it clear of midnight)."""


@pytest.fixture
def own_stack(tmp_path: Path, persistence: str, real_time: None) -> Iterator[Callable[[], tuple[DevStack, Client]]]:
    """A private stack for tests that kill things (on the same store kind as the pass)."""
    made: list[tuple[DevStack, Client]] = []

    with ExitStack() as cleanup:

        def make() -> tuple[DevStack, Client]:
            env = cleanup.enter_context(store_env(persistence))
            s = new_stack(tmp_path / f"stack{len(made)}", **env)
            s.start()
            made.append((s, Client(s)))
            return made[-1]

        yield make
        for s, c in made:
            c.close()
            s.stop()
