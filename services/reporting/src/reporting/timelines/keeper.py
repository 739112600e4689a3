"""Keeps the timeline table current in the background (ADR 0018), so a read rarely has entries
to apply first, and a new version of the table is filled from the store when the service
starts rather than on its first read. Woken when this process records events; reads still
catch up themselves, so nothing depends on this task's timing."""

from __future__ import annotations

import asyncio
import contextlib

from caseplatform.store import ServiceApplication
from reporting.timelines.table import TimelineTable


class TimelineKeeper:
    def __init__(self, app: ServiceApplication, table: TimelineTable, idle_s: float = 5.0) -> None:
        self._table = table
        self._idle_s = idle_s  # also catches entries another replica recorded
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        app.on_recorded(self._recorded)

    def _recorded(self) -> None:
        loop = self._loop
        if loop is not None and not self._wake.is_set():
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            await asyncio.to_thread(self._table.catch_up)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_s)
