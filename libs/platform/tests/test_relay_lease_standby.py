"""A standby replica asks for the relay lease every second: asking again must not make it the holder."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from caseplatform.relay_lease import LeaseLost, acquire, give_up, lease_for
from caseplatform.settings import PlatformSettings

from .fakes import until


def test_a_standby_asking_again_is_still_refused(settings: PlatformSettings) -> None:
    # On PostgreSQL the standby keeps its session between attempts; a live session is not the
    # lease (a defect until 2026-12-01: its second attempt answered "held", and two relays published).
    holder, standby = lease_for("source", settings), lease_for("source", settings)
    try:
        assert holder.try_acquire()
        for _ in range(3):
            assert not standby.try_acquire(), "the standby took itself for the holder"
        with pytest.raises(LeaseLost):
            standby.check()
        holder.release()
        assert standby.try_acquire()
        assert not holder.try_acquire()
        assert not holder.try_acquire()
    finally:
        holder.release()
        standby.release()


async def test_the_lease_gauge_says_whether_this_replica_publishes(settings: PlatformSettings) -> None:
    holder, standby = lease_for("gauge", settings), lease_for("gauge", settings)

    def held() -> float | None:
        return REGISTRY.get_sample_value("casework_relay_lease_held", {"service": "gauge"})

    try:
        await acquire(holder, "gauge")
        assert held() == 1
        waiting = asyncio.create_task(acquire(standby, "gauge", retry_s=0.05))
        await until(lambda: held() == 0, 5, "the standby's gauge")  # the standby says it stands by
        assert not waiting.done()
        await give_up(holder, "gauge")
        await asyncio.wait_for(waiting, 5)
        assert held() == 1  # the standby took over and publishes
        await give_up(standby, "gauge")
        assert held() == 0
    finally:
        holder.release()
        standby.release()
