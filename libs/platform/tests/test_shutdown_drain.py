"""The stop signal's drain (ADR 0040): NOT_SERVING, still answering for the configured delay, so
proxies stop sending new connections before the port closes; a second signal cuts it short.
Then the Kafka clients get a bounded time to close. The whole sequence on real services behind a
proxy, in a rolling restart: tests/system/test_rolling_restart.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from caseplatform import runner
from caseplatform.runner import _drain


async def _timed_drain(delay_s: float, second_signal_after: float | None = None) -> float:
    stop = asyncio.Event()
    stop.set()  # the first signal, which started the shutdown
    if second_signal_after is not None:
        asyncio.get_running_loop().call_later(second_signal_after, stop.set)
    started = time.monotonic()
    await _drain(stop, delay_s, "intake")
    return time.monotonic() - started


async def test_the_drain_lasts_the_delay() -> None:
    assert 0.4 <= await _timed_drain(0.4) < 5


async def test_a_second_signal_ends_the_drain_at_once() -> None:
    assert await _timed_drain(60, second_signal_after=0.1) < 5


async def test_without_a_delay_there_is_no_drain() -> None:
    assert await _timed_drain(0) < 0.05


class _BrokerInARebalance:
    """A consumer's close that waits for a join the broker holds (a group rebalancing)."""

    def __init__(self, hangs_for: float) -> None:
        self.hangs_for = hangs_for
        self.closed = False

    async def stop(self) -> None:
        await asyncio.sleep(self.hangs_for)
        self.closed = True


async def test_the_kafka_clients_are_let_go_when_closing_them_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "KAFKA_CLOSE_S", 0.3)
    started = time.monotonic()
    await runner._close_kafka_clients(_BrokerInARebalance(hangs_for=60), "intake")  # type: ignore[arg-type]
    assert time.monotonic() - started < 5


async def test_a_prompt_close_is_waited_for() -> None:
    broker = _BrokerInARebalance(hangs_for=0.05)
    await runner._close_kafka_clients(broker, "intake")  # type: ignore[arg-type]
    assert broker.closed
