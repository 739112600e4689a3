"""Helpers for tests of services built on the kernel (imported by tests only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from caseplatform.clock import ControlledClock, set_process_clock


@contextmanager
def controlled_clock(start: datetime) -> Iterator[ControlledClock]:
    """Run with the process clock stopped at `start` (move it with `.advance()`/`.set()`)."""
    clock = ControlledClock(start)
    previous = set_process_clock(clock)
    try:
        yield clock
    finally:
        set_process_clock(previous)
