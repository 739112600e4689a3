"""The tracked consumer's batch loop: a message that arrives after an empty wait is taken at once,
not after a further sleep (FastStream's batch subscriber sleeps after every empty wait)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from caseplatform.consumer import PromptBatchSubscriber, TrackedConsumer
from caseplatform.settings import PlatformSettings


class Consumer:
    """An aiokafka consumer as `get_msg` sees it: `getmany` waits for data up to its timeout."""

    def __init__(self, *, returns_at_once: bool = False) -> None:
        self.returns_at_once = returns_at_once

    async def getmany(self, timeout_ms: int, max_records: int | None) -> dict[Any, list[Any]]:
        if not self.returns_at_once:  # nothing arrives: the whole wait (no asyncio.sleep used)
            try:
                await asyncio.wait_for(asyncio.Event().wait(), timeout_ms / 1000)
            except TimeoutError:
                pass
        return {}


@pytest.fixture
def subscriber(tmp_path: Any) -> PromptBatchSubscriber:
    settings = PlatformSettings(casework_data_dir=tmp_path, consumer_batch_wait_ms=40)
    consumer = TrackedConsumer(KafkaBroker("127.0.0.1:9"), "risk", ("intake",), settings, inbox=None)
    assert isinstance(consumer.subscriber, PromptBatchSubscriber)  # a FastStream upgrade must keep this
    return consumer.subscriber


def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays `asyncio.sleep` is called with from now on (it still sleeps)."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any) -> Any:
        slept.append(delay)
        return await real_sleep(delay, *args)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    return slept


def sleeps_during(monkeypatch: pytest.MonkeyPatch, consumer: Consumer, subscriber: PromptBatchSubscriber) -> list[float]:
    slept = recorded_sleeps(monkeypatch)
    assert asyncio.run(subscriber.get_msg(consumer)) == ()
    return slept


def test_after_a_whole_empty_wait_the_next_fetch_is_awaited_at_once(
    monkeypatch: pytest.MonkeyPatch, subscriber: PromptBatchSubscriber
) -> None:
    assert sleeps_during(monkeypatch, Consumer(), subscriber) == []


def test_an_empty_answer_at_once_still_pauses_so_the_loop_does_not_spin(
    monkeypatch: pytest.MonkeyPatch, subscriber: PromptBatchSubscriber
) -> None:
    # getmany answers at once when nothing is assigned (a rebalance): without a pause the
    # subscriber's loop would go round as fast as it could.
    assert sleeps_during(monkeypatch, Consumer(returns_at_once=True), subscriber) == [0.04]


class Arriving:
    """`getmany` answering from a script: each call takes the next batch (then nothing)."""

    def __init__(self, *batches: dict[str, list[int]]) -> None:
        self.batches = list(batches)
        self.calls: list[tuple[int, int | None]] = []

    async def getmany(self, timeout_ms: int, max_records: int | None) -> dict[Any, list[Any]]:
        self.calls.append((timeout_ms, max_records))
        return dict(self.batches.pop(0)) if self.batches else {}


def lingering(tmp_path: Any, linger_ms: int) -> PromptBatchSubscriber:
    settings = PlatformSettings(casework_data_dir=tmp_path, consumer_linger_ms=linger_ms)
    subscriber = TrackedConsumer(KafkaBroker("127.0.0.1:9"), "risk", ("intake",), settings, inbox=None).subscriber
    assert isinstance(subscriber, PromptBatchSubscriber)
    return subscriber


def test_a_small_batch_waits_a_moment_and_takes_what_arrived_meanwhile_in_partition_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    subscriber = lingering(tmp_path, 5)
    consumer = Arriving({"p0": [1]}, {"p1": [10], "p0": [2, 3]})
    slept = recorded_sleeps(monkeypatch)
    records = asyncio.run(subscriber.get_msg(consumer))
    assert slept == [0.005]
    # One batch: partition p0's records in their order, p1's after; the second look only takes
    # what is already fetched (no wait), and no more than the batch has room for.
    assert records == (1, 2, 3, 10)
    assert consumer.calls[1] == (0, subscriber.max_records - 1)


def test_a_batch_large_enough_or_a_linger_of_zero_is_applied_at_once(tmp_path: Any) -> None:
    big = Arriving({"p0": list(range(50))}, {"p0": [99]})
    assert asyncio.run(lingering(tmp_path, 5).get_msg(big)) == tuple(range(50))
    assert len(big.calls) == 1
    off = Arriving({"p0": [1]}, {"p0": [2]})
    assert asyncio.run(lingering(tmp_path, 0).get_msg(off)) == (1,)
    assert len(off.calls) == 1


def test_a_linger_longer_than_a_second_is_refused_by_name(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="consumer_linger_ms"):
        PlatformSettings(casework_data_dir=tmp_path, consumer_linger_ms=5000)


class Batch:
    """A fetched batch as the handler sees it: acknowledged or sent back to be read again."""

    def __init__(self) -> None:
        self.nacked = self.acked = 0

    async def nack(self) -> None:
        self.nacked += 1

    async def ack(self) -> None:
        self.acked += 1


def test_a_batch_that_fails_is_read_again_after_a_growing_pause_reset_by_success(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    settings = PlatformSettings(casework_data_dir=tmp_path)
    consumer = TrackedConsumer(KafkaBroker("127.0.0.1:9"), "risk", ("intake",), settings, inbox=None)
    outcomes = [OSError("store away")] * 7 + [None, OSError("store away again")]

    async def apply(_msg: Any) -> None:
        if (outcome := outcomes.pop(0)) is not None:
            raise outcome

    monkeypatch.setattr(consumer, "_apply", apply)
    slept: list[float] = []

    async def no_sleep(delay: float, *_: Any) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    batch = Batch()

    async def deliver_all() -> None:
        for _ in range(9):
            try:
                await consumer.on_events(batch)  # type: ignore[arg-type]
            except OSError:
                pass

    asyncio.run(deliver_all())
    assert batch.nacked == 8  # every failed batch is read again…
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 0.2]  # …after a pause that grows to 5 s, reset by a success
