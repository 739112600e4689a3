"""The restart policy of `make run` (`devstack.supervisor`), on a stand-in stack and a clock
that moves only when told: which deaths are restarted when, and when the stack is stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from caseplatform.devstack.broker import BrokerFailed
from caseplatform.devstack.stack import ServiceFailed
from caseplatform.devstack.supervisor import RestartPolicy, Supervisor

POLICY = RestartPolicy(delays=(0.5, 1.0, 2.0, 4.0, 8.0), healthy_after_s=60.0, give_up_after=5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStack:
    """Children die when a test says so; `restart` succeeds unless told to fail (taking `start_s`)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.dead: list[tuple[str, int]] = []
        self.started: list[str] = []
        self.refuse: set[str] = set()
        self.start_s = 0.0

    def exited(self) -> list[tuple[str, int]]:
        found, self.dead = self.dead, []
        return found

    def restart(self, name: str) -> None:
        self.clock.now += self.start_s
        if name in self.refuse:
            if name == "broker":
                raise BrokerFailed("Kafka broker on h:1 did not listen within 30s; log broker.log")
            raise ServiceFailed(name, "exited before reporting SERVING (exit code 3)", _log(name), 3)
        self.started.append(name)

    def failure(self, name: str, reason: str, exit_code: int | None = None) -> ServiceFailed | BrokerFailed:
        if name == "broker":
            return BrokerFailed(f"Kafka broker {reason}")
        return ServiceFailed(name, reason, _log(name), exit_code)


def _log(name: str) -> Path:
    return Path("/nonexistent") / f"{name}.log"  # named in the error; nothing is read from it


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_dead_service_is_started_again_after_the_first_delay(clock: Clock) -> None:
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, POLICY, clock)
    clock.now += 600
    stack.dead.append(("intake", -9))
    supervisor.check()
    assert stack.started == [] and supervisor.waiting == ["intake"]
    clock.now += 0.4
    supervisor.check()
    assert stack.started == []
    clock.now += 0.1
    supervisor.check()
    assert stack.started == ["intake"] and supervisor.waiting == []
    assert supervisor.restarts == {"intake": 1}


def test_deaths_soon_after_starting_back_off_then_stop_the_stack(clock: Clock) -> None:
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, POLICY, clock)
    waited = []
    for _ in range(4):
        stack.dead.append(("risk", 1))
        supervisor.check()
        started_at = clock.now
        while stack.started.count("risk") < len(waited) + 1:
            clock.now += 0.25
            supervisor.check()
        waited.append(clock.now - started_at)
        clock.now += 5  # up for a moment, then dead again
    assert waited == [0.5, 1.0, 2.0, 4.0]
    stack.dead.append(("risk", 1))
    with pytest.raises(ServiceFailed, match="5 times in a row, each within 60s of starting; not starting it again") as failed:
        supervisor.check()
    assert failed.value.service == "risk" and failed.value.exit_code == 1


def test_a_process_up_long_enough_starts_over_from_the_first_delay(clock: Clock) -> None:
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, POLICY, clock)
    for _ in range(12):  # far more deaths than the give-up count, each after a healthy minute
        clock.now += 61
        stack.dead.append(("reporting", -9))
        supervisor.check()
        clock.now += 0.5
        supervisor.check()
    assert stack.started == ["reporting"] * 12


def test_a_restart_that_fails_counts_even_when_it_took_long(clock: Clock) -> None:
    """A service that never reports SERVING takes the whole ready timeout each try: still a crash loop."""
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, POLICY, clock)
    stack.refuse.add("marac")
    stack.start_s = 120.0
    clock.now += 600
    stack.dead.append(("marac", -9))
    supervisor.check()
    with pytest.raises(ServiceFailed, match=r"marac did not come up again \(service marac exited before reporting SERVING \(exit code 3\)\): 5 times in a row"):
        for _ in range(100):
            clock.now += 1
            supervisor.check()
    assert stack.started == []


def test_the_broker_comes_back_before_the_services(clock: Clock) -> None:
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, POLICY, clock)
    stack.dead += [("intake", -9), ("kcat shim", -9), ("broker", -9)]
    supervisor.check()
    clock.now += 0.5
    supervisor.check()
    assert stack.started == ["broker", "intake", "kcat shim"]


def test_a_broker_that_does_not_come_back_stops_the_stack(clock: Clock) -> None:
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, POLICY, clock)
    stack.refuse.add("broker")
    stack.dead.append(("broker", -9))
    with pytest.raises(BrokerFailed, match="did not come up again"):
        for _ in range(100):
            clock.now += 1
            supervisor.check()


def test_with_restarts_off_the_first_death_stops_the_stack(clock: Clock) -> None:
    stack = FakeStack(clock)
    supervisor = Supervisor(stack, RestartPolicy(restart=False), clock)
    stack.dead.append(("repairs", -9))
    with pytest.raises(ServiceFailed, match="repairs exited unexpectedly \\(killed by SIGKILL\\)"):
        supervisor.check()
    assert stack.started == []
