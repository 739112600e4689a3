from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from caseplatform import topology
from caseplatform.devstack.ports import free_ports
from caseplatform.devstack.stack import DevStack

from .client import Client

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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """The whole system, started the way `make run` starts it, shared by read-mostly tests."""
    with new_stack(tmp_path_factory.mktemp("stack"), CASEWORK_CLOCK_START=GOOD_FRIDAY_1740) as running:
        yield running


@pytest.fixture(scope="session")
def client(stack: DevStack) -> Iterator[Client]:
    c = Client(stack)
    yield c
    c.close()


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Callable[[], tuple[DevStack, Client]]]:
    """A private stack for tests that kill things."""
    made: list[tuple[DevStack, Client]] = []

    def make() -> tuple[DevStack, Client]:
        s = new_stack(tmp_path)
        s.start()
        made.append((s, Client(s)))
        return made[-1]

    yield make
    for s, c in made:
        c.close()
        s.stop()
