"""The SLA watch (ADR 0016): reporting's background task that notices deadlines passing.

It follows reporting's own notification log (only committed clock events), keeps the open clocks
in memory, records a breach within a fraction of a second of each due instant, and exports the
SLA metrics. The store stays the record: on start the watch rebuilds its memory from it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.utils import get_topic

from caseplatform.clock import process_clock
from reporting import sla_metrics as m
from reporting.domain.sla import SlaCase, SlaClock
from reporting.sla_projection import SlaProjection

log = logging.getLogger(__name__)

CLOCK_TOPICS = [get_topic(getattr(SlaClock, e)) for e in ("Opened", "Started", "StopNoted", "Breached", "Met", "Withdrawn")]
CASE_TOPICS = [get_topic(SlaCase.AreaSet)]
BREACHED, MET = get_topic(SlaClock.Breached), get_topic(SlaClock.Met)


@dataclass
class OpenClock:
    kind: str
    service: str
    case_id: str
    due_at: datetime
    breached: bool


class SlaWatch:
    def __init__(
        self,
        projection: SlaProjection,
        app_recorder: object,
        *,
        grace: timedelta = timedelta(milliseconds=200),
        tick_s: float = 0.1,
        startup_hold_s: float = 3.0,
    ) -> None:
        self._projection = projection
        self._recorder = app_recorder
        self._grace = grace  # lets an event that met the clock just before its due instant arrive
        self._tick_s = tick_s
        self._hold_until = time.monotonic() + startup_hold_s  # the consumer's first fetch
        self._position = 0
        self._open: dict[UUID, OpenClock] = {}
        self._areas: dict[str, str] = {}
        self._gauge_keys: set[tuple[str, ...]] = set()

    async def run(self) -> None:
        await asyncio.to_thread(self.follow, False)  # memory from the store; history is not re-counted
        while True:
            await asyncio.to_thread(self.tick)
            await asyncio.sleep(self._sleep_s())

    def tick(self) -> None:
        self.follow()
        if self.ready() and self.sweep(process_clock().now()):
            self.follow()
        self.export(process_clock().now())

    def ready(self) -> bool:
        """Breaches are recorded only when we are current with the topics (not catching up)."""
        return time.monotonic() >= self._hold_until and not self._projection.catching_up()

    # ----- following the store --------------------------------------------------------------------

    def follow(self, count: bool = True) -> None:
        """Apply reporting's clock events recorded since the last call."""
        while True:
            page = self._recorder.select_notifications(  # type: ignore[attr-defined]
                self._position + 1, 1000, topics=CLOCK_TOPICS + CASE_TOPICS
            )
            for n in page:
                self._apply(n.originator_id, n.topic, count)
                self._position = n.id
            if len(page) < 1000:
                return

    def _apply(self, originator_id: UUID, topic: str, count: bool) -> None:
        if topic in CASE_TOPICS:
            case = self._projection.clock_case(originator_id)
            if case is not None:
                self._areas[case.case_id] = case.area
            return
        clock = self._projection.clock(originator_id)
        if clock is None:
            return
        if clock.started and not clock.stopped:
            self._open[originator_id] = OpenClock(
                clock.kind, clock.service, clock.case_id, clock.due_at, clock.breached_at is not None
            )
        else:
            self._open.pop(originator_id, None)
        if count:
            self._count(topic, clock)

    def _count(self, topic: str, clock: SlaClock) -> None:
        labels = (clock.kind, clock.service, m.area_label(self._areas.get(clock.case_id, "")))
        if topic == BREACHED:
            m.BREACHES.labels(*labels).inc()
        elif topic == MET and clock.met_at is not None and clock.start is not None:
            m.MET.labels(*labels, "on_time" if clock.on_time else "late").inc()
            m.TIME_TO_MEET.labels(*labels).observe(max((clock.met_at - clock.start["started_at"]).total_seconds(), 0))

    # ----- breaches ---------------------------------------------------------------------------------

    def sweep(self, now: datetime) -> int:
        """Record the breach of every open clock whose due instant (plus grace) has passed."""
        recorded = 0
        for aggregate_id, clock in list(self._open.items()):
            due = not clock.breached and now >= clock.due_at + self._grace
            if due and self._projection.breach_if_due(aggregate_id, now, self._grace):
                recorded += 1
                log.info("SLA breached: %s (%s)", clock.kind, clock.service)
        return recorded

    def _sleep_s(self) -> float:
        now = process_clock().now()
        upcoming = [c.due_at + self._grace for c in self._open.values() if not c.breached]
        if not upcoming:
            return self._tick_s
        return min(self._tick_s, max((min(upcoming) - now).total_seconds(), 0.005))

    # ----- metrics ----------------------------------------------------------------------------------

    def export(self, now: datetime) -> None:
        counts: dict[tuple[str, ...], int] = {}
        for clock in self._open.values():
            area = m.area_label(self._areas.get(clock.case_id, ""))
            base = (clock.kind, clock.service, area)
            m.BREACHES.labels(*base)  # the series exists at 0 before the first breach (rate/increase)
            for state in m.STATES:
                counts.setdefault((*base, state), 0)
            counts[(*base, _state(clock, now))] += 1
        for key in self._gauge_keys - counts.keys():
            counts[key] = 0  # a label set that emptied reads 0, not a stale value
        for key, value in counts.items():
            m.OPEN_CLOCKS.labels(*key).set(value)
        self._gauge_keys |= counts.keys()


def _state(clock: OpenClock, now: datetime) -> str:
    if clock.breached or now >= clock.due_at:
        return "overdue"
    if (clock.due_at - now).total_seconds() <= m.DUE_SOON_S:
        return "due_soon"
    return "on_track"
