"""Waiting for a case to reach this service (read-your-writes across services, ADR 0026).

A landlord system submits a disclosure to intake and at once records the DASH in risk: risk
learns of the case only when intake's `DisclosureReceived` has come through the broker, tens of
milliseconds later (seconds under load). Answering NOT_FOUND meanwhile makes every client write
its own retry loop, and those retries cost the service more than the work itself. Instead the
edge holds a call naming a case this service has not heard of yet, for a bounded time, and runs
it once the case arrives.

"Arrived" is the kernel's owner index knowing the case (`caseplatform.case_owners`): it is
written in the same transaction as the service's own reaction to the disclosure, so once it
is there the service's record of the case is too. This process's commits wake a waiter at once;
a commit by another replica (a shared PostgreSQL store) is seen by re-reading every `recheck_s`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from uuid import UUID

from eventsourcing.persistence import Recording


class Arrivals:
    """Calls waiting for aggregates to be recorded, woken from the committing thread."""

    def __init__(self, exists: Callable[[UUID], bool], recheck_s: float = 0.25) -> None:
        self._exists = exists
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._waiting: dict[UUID, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())

    async def wait(self, aggregate_id: UUID, timeout_s: float) -> bool:
        """True once `aggregate_id` is recorded (at once if it already is); False after `timeout_s`."""
        if timeout_s <= 0:
            return await asyncio.to_thread(self._exists, aggregate_id)
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[None] = loop.create_future()
        entry = (loop, arrived)
        with self._lock:
            self._waiting.setdefault(aggregate_id, []).append(entry)
        try:
            deadline = loop.time() + timeout_s
            # Checked after registering: a commit between the caller's miss and now is not missed.
            while not await asyncio.to_thread(self._exists, aggregate_id):
                left = deadline - loop.time()
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(asyncio.shield(arrived), min(left, self._recheck_s))
                    return True
                except TimeoutError:
                    continue  # recorded elsewhere (another replica)? read again
            return True
        finally:
            with self._lock:
                waiters = self._waiting.get(aggregate_id)
                if waiters is not None and entry in waiters:
                    waiters.remove(entry)
                    if not waiters:
                        del self._waiting[aggregate_id]

    def recorded(self, recordings: Sequence[Recording[UUID]]) -> None:
        """After a commit, in the committing thread: wake whoever waits for what it recorded."""
        if not self._waiting:  # no lock for the common case: nobody waits
            return
        woken = []
        with self._lock:
            for recording in recordings:
                woken.extend(self._waiting.pop(recording.domain_event.originator_id, ()))
        for loop, arrived in woken:
            try:
                loop.call_soon_threadsafe(_settle, arrived)
            except RuntimeError:  # that loop has closed: nobody left to wake
                pass


def _settle(arrived: asyncio.Future[None]) -> None:
    if not arrived.done():
        arrived.set_result(None)
