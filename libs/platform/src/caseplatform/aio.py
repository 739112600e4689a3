"""Small asyncio helpers the kernel relies on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def bounded(awaitable: Awaitable[T], seconds: float) -> T:
    """`asyncio.wait_for` as Python 3.12 has it. In 3.11, `wait_for` can swallow a cancellation
    that arrives just as the awaited thing finishes, and a relay cancelled then (a shutdown, a
    replica handing over) went on publishing for ever; `asyncio.timeout` tells its own timeout
    from a cancellation."""
    async with asyncio.timeout(seconds):
        return await awaitable
