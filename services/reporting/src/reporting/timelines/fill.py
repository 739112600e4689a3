"""Entries filled in where timeline rows have none (ADR 0042).

A rebuild stages envelopes only, and rows copied from an earlier table shape may have no entry:
a read derives such a row's entry each time (~25 µs an entry; a 1,000-entry case ~28 ms against
~3 ms stored). This pass derives and stores them once, in the background: when the service
starts (a rebuild or a copy before a restart) and after each rebuild this process swaps in.

It works in sections of `table.SECTION` rows (in storage order on SQLite, in event id order on
PostgreSQL), each in its own short transaction, and rests as long as each section took, so it
never takes more than about half a core from live work. Only rows still without an entry are
written, with the entry the read would have derived, so a live write, a read or a second replica
doing the same meanwhile changes nothing. The table's mark (`table.UNFILLED`) is cleared at the
end unless a rebuild swapped rows in meanwhile, in which case the pass runs again."""

from __future__ import annotations

import asyncio
import logging
import time

from reporting.timelines.table import TimelineTable

log = logging.getLogger(__name__)
REST = 1.0  # rest after a section, as a multiple of the time it took


class EntryFill:
    def __init__(self, table: TimelineTable, rest: float = REST) -> None:
        self._table = table
        self._rest = rest
        self._wake = asyncio.Event()
        self._wake.set()  # once at start: rows a rebuild or a copy left before a restart

    def wake(self) -> None:
        """Rows without entries may have joined the table (a rebuild swapped in)."""
        self._wake.set()

    @property
    def woken(self) -> bool:
        """Whether the loop will make a pass when it next looks."""
        return self._wake.is_set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await self.fill()

    async def fill(self) -> int:
        """Entries stored; 0 at once when the table is not marked as having rows to fill. A wake
        while it runs (rows swapped in meanwhile) makes the loop run it again."""
        self._wake.clear()
        mark = await asyncio.to_thread(self._table.unfilled_mark)
        if not mark:
            return 0
        began = time.monotonic()
        after, filled, more = None, 0, True
        while more:
            section_began = time.monotonic()
            after, stored, more = await asyncio.to_thread(self._table.fill_section, after)
            filled += stored
            await asyncio.sleep((time.monotonic() - section_began) * self._rest)
        if not await asyncio.to_thread(self._table.clear_unfilled, mark):
            self._wake.set()  # a rebuild swapped rows in meanwhile: once more
        log.info("timeline entries filled in: %d in %.1f s", filled, time.monotonic() - began)
        return filled
