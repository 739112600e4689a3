"""Callers watching cases' timelines (`WatchCaseTimeline`, ADR 0028).

A timeline row is written in the inbox's transaction (ADR 0024); the commit that writes a case's
rows wakes whoever watches that case, from whichever thread committed. On PostgreSQL the same
transaction also notifies (`pg_notify` on `CHANNEL`, the case id as payload: a random id, no
personal data), so a watcher on another replica is woken by that commit too (ADR 0036). A
watcher also looks again every `recheck_s` whatever it heard: rows it cannot hear of — a rebuild
swapping the table in, a commit while this replica's listener reconnects — are then late by at
most that long.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from caseplatform.postgres_connections import service_connect_options
from caseplatform.store import ServiceApplication
from reporting.timelines.table import CHANNEL, TimelineTable

log = logging.getLogger(__name__)
RETRY_S = 1.0  # a listener that lost its connection connects again after this long


class TimelineWatch:
    def __init__(self, app: ServiceApplication, table: TimelineTable) -> None:
        self._app = app
        self._table = table
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self.recheck_s = 1.0 if app.store_is_shared else 2.0
        self._listener: threading.Thread | None = None
        self._closed = threading.Event()
        app.on_committed(self._committed)

    def _committed(self, processing: Any) -> None:
        if not self._waiting:
            return
        self._wake({
            row.case_id
            for writer, rows in getattr(processing.tracking, "rows", ())
            if writer is self._table
            for row in rows
        })

    def _wake(self, case_ids: set[str]) -> None:
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
        if self._app.store_is_shared and self._listener is None:
            self._start_listening()
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

    def _start_listening(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="timeline-listener", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        """Other replicas' commits, heard from PostgreSQL, for as long as the application is open."""
        import psycopg

        while not self._closed.is_set():
            try:
                settings = self._app.settings
                with psycopg.connect(settings.casework_postgres_dsn, autocommit=True,
                                     **service_connect_options(settings)) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._closed.is_set():  # the timeout only lets a close be seen
                        for heard in connection.notifies(timeout=1.0):
                            if heard.channel == CHANNEL and self._waiting:
                                self._wake({heard.payload})
            except Exception:
                log.warning("timeline listener: connection lost; connecting again", exc_info=True)
                time.sleep(RETRY_S)

    def close(self) -> None:
        """Stop listening (within a second: the listener looks up at least that often)."""
        self._closed.set()
        if self._listener is not None:
            self._listener.join(timeout=2 * RETRY_S + 1)

    def watchers(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())
