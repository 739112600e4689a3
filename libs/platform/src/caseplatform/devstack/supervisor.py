"""What `make run` does when a process it started dies on its own (a crash, the OOM killer,
a `kill -9`): it starts it again, as Kubernetes does for a pod with `restartPolicy: Always`.

Restarts back off (`RestartPolicy.delays`) while a process keeps dying soon after it started;
one that ran for `healthy_after_s` starts again from the first delay. A process that died
`give_up_after` times in a row, each time within `healthy_after_s` of starting, is a fault a
restart will not mend (a bad setting, a corrupt store): the stack is stopped and the error names
the process and the end of its log — a crash loop left running would hide it. A dead broker
comes back empty, as a restarted pod on memory storage would; the relays republish what each
store holds and the consumers skip what they applied (ADR 0003), so nothing accepted is lost.

`CASEWORK_RESTART=never` keeps the earlier behaviour: the first death stops the stack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from caseplatform.devstack import procs
from caseplatform.devstack.broker import BrokerFailed
from caseplatform.devstack.stack import BROKER, ServiceFailed

log = logging.getLogger("caseplatform.devstack")


class Supervised(Protocol):
    """What the supervisor needs of `DevStack`."""

    def exited(self) -> list[tuple[str, int]]: ...

    def restart(self, name: str) -> None: ...

    def failure(self, name: str, reason: str, exit_code: int | None = None) -> ServiceFailed | BrokerFailed: ...


@dataclass(frozen=True)
class RestartPolicy:
    restart: bool = True
    delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # before the 1st, 2nd, … restart in a row (the last repeats)
    healthy_after_s: float = 60.0  # up this long: its next death is a first one again
    give_up_after: int = 5  # deaths in a row, each soon after starting: stop the stack


@dataclass
class _Record:
    started_at: float  # when it last came up (or was last tried)
    deaths: int = 0  # in a row, each within `healthy_after_s` of its start
    due_at: float | None = None  # when to start it again; None while it runs


class Supervisor:
    """Call `check()` from the launcher's loop: it notices deaths, restarts what is due, and
    raises `ServiceFailed` / `BrokerFailed` when the policy says to stop the stack."""

    def __init__(self, stack: Supervised, policy: RestartPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stack = stack
        self._policy = policy or RestartPolicy()
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._since = clock()  # made once the stack is up: when every first process started
        self.restarts: dict[str, int] = {}  # successful restarts per process, for the launcher's log

    def check(self) -> None:
        for name, code in self._stack.exited():
            record = self._records.setdefault(name, _Record(started_at=self._since))
            self._died(name, record, f"exited unexpectedly ({procs.describe_exit(code)})", code,
                       ran_healthy=self._clock() - record.started_at >= self._policy.healthy_after_s)
        # The broker first: the services' consumers and relays are waiting for it.
        for name in sorted(self._records, key=lambda n: (n != BROKER, n)):
            record = self._records[name]
            if record.due_at is not None and record.due_at <= self._clock():
                self._start(name, record)

    @property
    def waiting(self) -> list[str]:
        """Processes down and due to be started again."""
        return sorted(name for name, record in self._records.items() if record.due_at is not None)

    def _died(self, name: str, record: _Record, reason: str, code: int | None, *, ran_healthy: bool) -> None:
        """`ran_healthy`: it had been up `healthy_after_s` (not: it died soon after starting, or never came up)."""
        if not self._policy.restart:
            raise self._stack.failure(name, reason, code)
        record.deaths = 1 if ran_healthy else record.deaths + 1
        if record.deaths >= self._policy.give_up_after:
            raise self._stack.failure(
                name,
                f"{reason}: {record.deaths} times in a row, each within {self._policy.healthy_after_s:g}s of "
                "starting; not starting it again",
                code,
            )
        delay = self._policy.delays[min(record.deaths, len(self._policy.delays)) - 1]
        record.due_at = self._clock() + delay
        log.warning("%s %s; starting it again in %gs", name, reason, delay)

    def _start(self, name: str, record: _Record) -> None:
        record.started_at, record.due_at = self._clock(), None
        try:
            self._stack.restart(name)
        except (ServiceFailed, BrokerFailed) as exc:  # a start that failed: a death soon after starting
            code = exc.exit_code if isinstance(exc, ServiceFailed) else None
            self._died(name, record, f"did not come up again ({_first_line(exc)})", code, ran_healthy=False)
            return
        self.restarts[name] = self.restarts.get(name, 0) + 1
        log.warning("%s started again (restart %d)", name, self.restarts[name])


def _first_line(exc: BaseException) -> str:
    return str(exc).split(";", 1)[0].split("\n", 1)[0]
