"""A call naming a case this service has not heard of yet waits for it (ADR 0026): woken by the
commit that brings the case, or by reading again when another replica committed it, and never
longer than it was allowed."""

from __future__ import annotations

import asyncio
import time

from caseplatform.case_owners import OwnerIndex
from caseplatform.inbox import Inbox
from caseplatform.settings import PlatformSettings

from .fakes import CounterApp, incoming

NEVER_RECHECK = 60.0  # only the commit's notification can wake a waiter this side of a minute


def test_a_waiting_call_is_woken_by_the_commit_that_brings_its_case(settings: PlatformSettings) -> None:
    app = CounterApp("counter", settings)
    index = OwnerIndex(app, recheck_s=NEVER_RECHECK)
    inbox = Inbox(app, index.around(app.policy))

    async def scenario() -> tuple[bool, float]:
        waiting = asyncio.create_task(index.wait_for_case("case-1", timeout_s=30))
        while index.arrivals.waiting == 0:
            await asyncio.sleep(0.01)
        assert not waiting.done()
        # Another case's commit wakes nobody.
        await asyncio.to_thread(inbox.apply, "intake", 0, [incoming("case-2", 1, 0)])
        await asyncio.sleep(0.1)
        assert not waiting.done()
        started = time.monotonic()
        await asyncio.to_thread(inbox.apply, "intake", 0, [incoming("case-1", 2, 1)])
        arrived = await asyncio.wait_for(waiting, 10)
        return arrived, time.monotonic() - started

    arrived, after_s = asyncio.run(scenario())
    assert arrived and after_s < NEVER_RECHECK / 2
    assert index.arrivals.waiting == 0
    assert index.owner_of("case-1") is not None


def test_a_case_that_never_comes_is_waited_for_only_as_long_as_allowed(settings: PlatformSettings) -> None:
    index = OwnerIndex(CounterApp("counter", settings))

    async def scenario() -> tuple[bool, float, bool]:
        started = time.monotonic()
        arrived = await index.wait_for_case("no-such-case", timeout_s=0.4)
        no_wait = await index.wait_for_case("no-such-case", timeout_s=0)
        return arrived, time.monotonic() - started, no_wait

    arrived, took_s, no_wait = asyncio.run(scenario())
    assert not arrived and not no_wait
    assert 0.4 <= took_s < 5
    assert index.arrivals.waiting == 0  # nothing left behind for the commits to look through


def test_a_case_already_known_is_not_waited_for(settings: PlatformSettings) -> None:
    app = CounterApp("counter", settings)
    index = OwnerIndex(app, recheck_s=NEVER_RECHECK)
    Inbox(app, index.around(app.policy)).apply("intake", 0, [incoming("case-1", 1, 0)])
    assert asyncio.run(asyncio.wait_for(index.wait_for_case("case-1", timeout_s=30), 10))


def test_a_case_another_replica_recorded_is_found_by_reading_again(settings: PlatformSettings) -> None:
    """Replicas share one store (PostgreSQL; here also one SQLite file): the commit happens in the
    other process, so no notification reaches this one's waiters."""
    here, there = CounterApp("counter", settings), CounterApp("counter", settings)
    index_here, index_there = OwnerIndex(here, recheck_s=0.05), OwnerIndex(there)
    inbox_there = Inbox(there, index_there.around(there.policy))

    async def scenario() -> bool:
        waiting = asyncio.create_task(index_here.wait_for_case("case-1", timeout_s=30))
        while index_here.arrivals.waiting == 0:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(inbox_there.apply, "intake", 0, [incoming("case-1", 1, 0)])
        return await asyncio.wait_for(waiting, 10)

    assert asyncio.run(scenario())
