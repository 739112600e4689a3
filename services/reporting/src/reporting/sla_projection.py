"""The SLA projection (ADR 0016): clocks kept from every topic's events, breaches recorded by
reporting itself, and the queries behind ListSlaBreaches and GetSlaStatus."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from caseplatform.clock import process_clock
from caseplatform.envelope import IncomingEvent
from caseplatform.errors import NotFound
from caseplatform.inbox import Unit
from caseplatform.store import ServiceApplication
from reporting.domain.sla import SlaCase, SlaClock
from reporting.sla_breaches import BreachTable
from reporting.sla_signals import signals

# An event recorded this long before we apply it means we are catching up (a restart, a rebuild,
# a broker that was away): the watch holds breaches back until we are current, because the event
# that met a clock may still be on its way.
CATCH_UP_AGE = timedelta(seconds=30)
CATCH_UP_HOLD_S = 2.0


@dataclass(frozen=True)
class BreachFilter:
    kind: str = ""
    service: str = ""
    area: str = ""
    start: datetime | None = None  # breached_at >= start
    end: datetime | None = None    # breached_at < end


class SlaProjection:
    def __init__(self, app: ServiceApplication, breach_rows: BreachTable) -> None:
        self._app = app
        self._breach_rows = breach_rows
        self._old_event_seen = -1e9  # time.monotonic() of the last event applied while catching up
        # Each case's area as last set, for `area_of` (the relay asks it on its event loop, for
        # outcomes recorded before the case's area was known): read from the store once per
        # case, then kept current by the policy, which sets every change.
        self._areas: dict[str, str] = {}
        self._areas_lock = threading.Lock()

    # ----- policy (inside the inbox's unit) -----------------------------------------------------

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if not event.case_id:
            return
        found = signals(event)
        if process_clock().now() - event.recorded_at > CATCH_UP_AGE:
            self._old_event_seen = time.monotonic()
        if not (found.area or found.starts or found.stops):
            return
        case = unit.get(SlaCase.create_id(event.case_id)) or SlaCase(case_id=event.case_id)
        case.set_area(found.area)
        if found.area:
            with self._areas_lock:  # ahead of the commit: a unit that fails is applied again
                self._areas[event.case_id] = found.area
        for start in found.starts:
            clock = self._clock(unit, start.clock_id, start.case_id, start.kind)
            clock.begin(start, case.area)
            case.add_clock(start.clock_id)
            unit.collect(clock)
        for stop in found.stops:
            clock = self._clock(unit, stop.clock_id, stop.case_id, stop.kind)
            clock.end(stop, case.area)
            case.add_clock(stop.clock_id)
            unit.collect(clock)
        unit.collect(case)

    @staticmethod
    def _clock(unit: Unit, clock_id: str, case_id: str, kind: str) -> SlaClock:
        return unit.get(SlaClock.create_id(clock_id)) or SlaClock(clock_id=clock_id, case_id=case_id, kind=kind)

    def catching_up(self) -> bool:
        return time.monotonic() - self._old_event_seen < CATCH_UP_HOLD_S

    # ----- the breach, recorded by reporting's own watch ----------------------------------------

    def breach_if_due(self, aggregate_id: UUID, now: datetime, grace: timedelta) -> bool:
        """Record the clock's breach if it is due; once only (the clock refuses a second, and a
        concurrent writer's version conflict makes this attempt a no-op to retry next tick)."""
        clock = self.clock(aggregate_id)
        if clock is None or not clock.breach_if_due(now, grace):
            return False
        try:
            self._app.save(clock)
        except IntegrityError:
            return False
        return True

    def breach_all_due(
        self, aggregate_ids: list[UUID], now: datetime, grace: timedelta, area_of: Callable[[str], str | None],
        armed: dict[UUID, SlaClock] | None = None, batch: int = 200,
    ) -> tuple[list[SlaClock], list[UUID]]:
        """Record the breach of each clock still due, many per commit. Returns (the clocks
        recorded, ids to retry): a batch a concurrent writer touched is recorded by no one here
        and retried.
        `armed`: clocks loaded before they fell due (`SlaWatch.arm`), taken from it as used; a
        stale one fails its batch's save like any concurrent change, and is read again then."""
        armed = armed if armed is not None else {}
        recorded: list[SlaClock] = []
        retry: list[UUID] = []
        for start in range(0, len(aggregate_ids), batch):
            clocks = []
            for aggregate_id in aggregate_ids[start:start + batch]:
                clock = armed.pop(aggregate_id, None) or self.clock(aggregate_id)
                # The area travels on the event, so publishing it needs no read of the case.
                if clock is not None and clock.breach_if_due(now, grace, area=area_of(clock.case_id) or ""):
                    clocks.append(clock)
            if not clocks:
                continue
            try:
                self._app.save(*clocks)
            except IntegrityError:
                retry += [c.id for c in clocks]
                continue
            recorded += clocks
        return recorded, retry

    # ----- queries ------------------------------------------------------------------------------

    def clock(self, aggregate_id: UUID) -> SlaClock | None:
        try:
            return self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def clock_case(self, aggregate_id: UUID) -> SlaCase | None:
        try:
            return self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def case(self, case_id: str) -> SlaCase | None:
        return self.clock_case(SlaCase.create_id(case_id))

    def area_of(self, case_id: str) -> str:
        with self._areas_lock:
            known = self._areas.get(case_id)
        if known is not None:
            return known
        case = self.case(case_id)
        with self._areas_lock:  # the policy may have set it meanwhile: that one stands
            return self._areas.setdefault(case_id, case.area if case else "")

    def status(self, case_id: str) -> tuple[str, list[SlaClock]]:
        """The case's area and its started clocks, by due instant."""
        case = self.case(case_id)
        if case is None:
            raise NotFound("SLA clocks for case", case_id)
        clocks = [self.clock(SlaClock.create_id(c)) for c in case.clock_ids]
        started = [c for c in clocks if c is not None and c.started]
        return case.area, sorted(started, key=lambda c: (c.due_at, c.kind, c.clock_id))

    def breaches(self, wanted: BreachFilter) -> list[tuple[SlaClock, str]]:
        """Breached clocks (with their case's area) matching the filter, by breached_at then clock."""
        rows = self._breach_rows.clocks(wanted.kind, wanted.service, wanted.start, wanted.end)
        return [found for _, clock in rows if (found := self._matched(UUID(clock), wanted)) is not None]

    def breach_page(
        self, wanted: BreachFilter, size: int, after: tuple[str, str] | None = None
    ) -> tuple[list[tuple[SlaClock, str]], tuple[str, str] | None]:
        """At most `size` of the same, following the row `after`; and the last row read, if rows
        remain to read (the next page starts after it), else None."""
        found: list[tuple[SlaClock, str]] = []
        while True:
            rows = self._breach_rows.clocks(wanted.kind, wanted.service, wanted.start, wanted.end, after, size)
            for key in rows:
                after = key
                matched = self._matched(UUID(key[1]), wanted)
                if matched is not None:
                    found.append(matched)
                    if len(found) == size:
                        more = self._breach_rows.clocks(
                            wanted.kind, wanted.service, wanted.start, wanted.end, after, 1)
                        return found, after if more else None
            if len(rows) < size:
                return found, None

    def _matched(self, aggregate_id: UUID, wanted: BreachFilter) -> tuple[SlaClock, str] | None:
        clock = self.clock(aggregate_id)
        if clock is None or clock.breached_at is None:
            return None
        area = self.area_of(clock.case_id)  # a case's area can change: the current one is asked
        return (clock, area) if _matches(clock, area, wanted) else None


def _matches(clock: SlaClock, area: str, wanted: BreachFilter) -> bool:
    assert clock.breached_at is not None
    return (
        (not wanted.kind or clock.kind == wanted.kind)
        and (not wanted.service or clock.service == wanted.service)
        and (not wanted.area or area == wanted.area)
        and (wanted.start is None or clock.breached_at >= wanted.start)
        and (wanted.end is None or clock.breached_at < wanted.end)
    )
