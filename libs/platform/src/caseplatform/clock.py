"""Time behind an interface, so tests (and replays) control it.

Every timestamp the system records is timezone-aware UTC; local time (Europe/London)
is only used to decide which day something falls on.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ControlledClock:
    """A clock that only moves when told to: for tests of deadlines and breaches."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ControlledClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


class OffsetClock:
    """Real time, shifted to start at a chosen instant: a test or training environment can live
    on a chosen date (e.g. the Friday before a bank holiday) while time still passes."""

    def __init__(self, start: datetime, base: Clock | None = None, anchor: datetime | None = None) -> None:
        """`anchor`: the real instant at which this clock reads `start` (default: now). Processes
        given the same start and anchor agree on the time whenever each of them started."""
        self._base = base or SystemClock()
        self._offset = start.astimezone(UTC) - (anchor.astimezone(UTC) if anchor else self._base.now())

    def now(self) -> datetime:
        return self._base.now() + self._offset


_process_clock: Clock = SystemClock()


def process_clock() -> Clock:
    """The clock every part of this process reads, event timestamps included."""
    return _process_clock


def set_process_clock(clock: Clock) -> Clock:
    """Replace the process clock; returns the previous one (for tests to restore)."""
    global _process_clock
    previous, _process_clock = _process_clock, clock
    return previous
