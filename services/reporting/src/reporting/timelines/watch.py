"""Callers watching cases' timelines (`WatchCaseTimeline`, ADR 0028).

A timeline row is written in the inbox's transaction (ADR 0024); the commit that writes a case's
rows wakes whoever watches that case, from whichever thread committed. A watcher also looks
again every `recheck_s` whatever it heard: rows it cannot hear of — another replica's inbox on a
shared PostgreSQL store, a rebuild swapping the table in — are then late by at most that long.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from caseplatform.store import ServiceApplication
from reporting.timelines.table import TimelineTable


class TimelineWatch:
    def __init__(self, app: ServiceApplication, table: TimelineTable) -> None:
        self._table = table
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self.recheck_s = 0.25 if app.store_is_shared else 2.0
        app.on_committed(self._committed)

    def _committed(self, processing: Any) -> None:
        if not self._waiting:
            return
        case_ids = {
            row.case_id
            for writer, rows in getattr(processing.tracking, "rows", ())
            if writer is self._table
            for row in rows
        }
        with self._lock:
            woken = [waiter for case_id in case_ids for waiter in self._waiting.get(case_id, ())]
        for loop, event in woken:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed: nobody left to wake
                continue

    @contextmanager
    def watching(self, case_id: str) -> Iterator[asyncio.Event]:
        """An event set when the case's timeline may have changed; clear it before each read."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(case_id, set()).add(waiter)
        try:
            yield waiter[1]
        finally:
            with self._lock:
                waiters = self._waiting.get(case_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiting[case_id]

    def watchers(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())
