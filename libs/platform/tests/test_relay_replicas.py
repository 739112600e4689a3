"""Replicas of a service share one store: only the holder of the relay lease publishes, and a
standby takes over when the holder goes. The start-up check copes with trimmed partitions."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally

import pytest

from caseplatform.devstack.broker import TansuBroker
from caseplatform.envelope import parse_envelope
from caseplatform.relay import PartitionTail, Relay, broker_holds
from caseplatform.relay_lease import lease_for
from caseplatform.settings import PlatformSettings

from .fakes import CounterApp
from .test_relay import PARTITIONS, broker, chains_are_whole, open_cases, read_topic, to_contract

__all__ = ["broker"]  # the fixture, imported for these tests


def test_an_untrimmed_partition_must_begin_a_chain() -> None:
    whole = PartitionTail(first_previous_id=0, last_id=9, last_offset=4)
    assert broker_holds({0: 9}, {0: whole})
    assert not broker_holds({0: 12}, {0: whole}), "our head is beyond what the broker holds"
    begins_mid_chain = PartitionTail(first_previous_id=5, last_id=9, last_offset=2)
    assert not broker_holds({0: 9}, {0: begins_mid_chain}), "the front was lost, not trimmed"


def test_a_partition_trimmed_by_retention_still_holds_the_chain() -> None:
    # Retention deleted offsets 0..99: the first record left names a predecessor that is gone.
    trimmed = PartitionTail(first_previous_id=41, last_id=77, last_offset=130, start_offset=100)
    assert broker_holds({0: 77}, {0: trimmed})
    emptied = PartitionTail(first_previous_id=None, last_id=0, last_offset=-1, start_offset=100)
    assert not broker_holds({0: 77}, {0: emptied}), "everything we sent is gone: replay"


def relay(app: CounterApp, broker: TansuBroker, settings: PlatformSettings) -> Relay:
    return Relay(app, to_contract, bootstrap=broker.bootstrap, partitions=PARTITIONS, section_size=50,
                 idle_check_interval_s=0.2, lease=lease_for("source", settings))


async def wait_published(relay: Relay, app: CounterApp, timeout: float = 30) -> None:
    async def wait() -> None:
        while relay.broker_position < (app.recorder.max_notification_id() or 0):
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


@pytest.mark.system
async def test_one_relay_publishes_and_a_standby_takes_over(
    settings: PlatformSettings, broker: TansuBroker
) -> None:
    first_app, second_app = CounterApp("source", settings), CounterApp("source", settings)
    first, second = relay(first_app, broker, settings), relay(second_app, broker, settings)
    first_task = asyncio.create_task(first.run())
    await asyncio.sleep(0.5)  # the first replica holds the lease before the second asks
    second_task = asyncio.create_task(second.run())
    try:
        before = open_cases(first_app, "a", 20)
        await wait_published(first, first_app)
        await asyncio.sleep(1.0)
        assert second.broker_position == 0, "the standby published while the holder was alive"

        first_task.cancel()  # the holder goes; its lease is released with it
        await asyncio.gather(first_task, return_exceptions=True)
        after = open_cases(second_app, "b", 20)
        await wait_published(second, second_app)
    finally:
        for task in (first_task, second_task):
            task.cancel()
        await asyncio.gather(first_task, second_task, return_exceptions=True)

    records = await read_topic(broker)
    published = Tally(parse_envelope(r.value).case_id for r in records)
    assert set(published) == set(before) | set(after)
    assert all(n == 1 for n in published.values()), "an event was published twice"
    chains_are_whole(records)


def test_the_holder_keeps_its_lease_when_its_loop_restarts(settings: PlatformSettings) -> None:
    """The relay re-enters `acquire` after any broker trouble: it must not stand by behind itself."""
    holder, other = lease_for("source", settings), lease_for("source", settings)
    try:
        assert holder.try_acquire()
        assert holder.try_acquire(), "the holder asked again and was refused"
        assert not other.try_acquire()
        holder.release()
        assert other.try_acquire(), "a released lease is free for the standby"
    finally:
        holder.release()
        other.release()
