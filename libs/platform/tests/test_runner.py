"""The service runner keeps its long-running loops alive."""

from __future__ import annotations

import asyncio

import pytest

from caseplatform.runner import _supervised


async def test_a_loop_that_fails_or_is_cancelled_from_inside_is_restarted() -> None:
    calls = 0
    running = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError()  # as aiokafka does to in-flight sends when a connection drops
        if calls == 2:
            raise ValueError("broker said no")
        running.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(_supervised(flaky, "test loop"))
    await asyncio.wait_for(running.wait(), 5)
    assert calls == 3
    task.cancel()  # but a real stop is honoured
    with pytest.raises(asyncio.CancelledError):
        await task
