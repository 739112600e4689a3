"""The SLA watch (ADR 0016): reporting's background task that notices deadlines passing.

It follows reporting's own notification log (only committed clock events), keeps the open clocks
in memory, records a breach within a fraction of a second of each due instant, and exports the
SLA metrics. The store stays the record: on start the watch rebuilds its memory from it.

The watch reads each notification's own event (decoded once, upcast by the mapper as any read
is) and never replays a clock to follow it: `Started` carries the clock's start, `Breached` and
`Met` its summary, and a clock's events are in its version order in the log. Only a clock about
to fall due is read whole: it is loaded up to `ARM_AHEAD_S` before its due instant ("armed"), so
that when thousands fall due at one midnight the sweep only records (reading 10,000 clocks at the
due instant was 60 % of the lag). An armed clock that changes meanwhile is dropped and read again
when due; a stale one could not be saved anyway (the store refuses a version already taken).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic

from caseplatform.clock import process_clock
from reporting import sla_metrics as m
from reporting.domain.sla import OPEN, SlaCase, SlaClock
from reporting.sla_projection import SlaProjection

log = logging.getLogger(__name__)
ARM_AHEAD_S = 60.0  # load a clock this long before its due instant
# A tick arms for at most this long: clocks falling due meanwhile wait for the tick, so arming
# the next midnight's thousands must not hold up the breaches of the minute before it.
ARM_BUDGET_S = 0.02
BATCH = 200  # breaches recorded per commit

# What the watch follows. `Opened` and `StopNoted` change nothing it keeps: a clock is open from
# `Started`, and a stop noted before its start settles through `Met`/`Breached`/`Withdrawn`.
CLOCK_TOPICS = [get_topic(getattr(SlaClock, e)) for e in ("Started", "Breached", "Met", "Withdrawn")]
# A case's id (from `Registered`) so that its `AreaSet` can label the case's clocks.
CASE_TOPICS = [get_topic(SlaCase.Registered), get_topic(SlaCase.AreaSet)]


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
        mapper: Mapper[UUID] | None = None,
        grace: timedelta = timedelta(milliseconds=200),
        tick_s: float = 0.1,
        startup_hold_s: float = 3.0,
        export_every_s: float = 1.0,
    ) -> None:
        self._projection = projection
        self._recorder = app_recorder
        # The application's mapper (decrypts, decodes, upcasts). Callers that pass only the
        # projection and recorder get the projection's application's own.
        self._mapper: Mapper[UUID] = mapper if mapper is not None else projection._app.mapper
        self._grace = grace  # lets an event that met the clock just before its due instant arrive
        self._tick_s = tick_s
        self._hold_until = time.monotonic() + startup_hold_s  # the consumer's first fetch
        self._position = 0
        self._open: dict[UUID, OpenClock] = {}
        self._areas: dict[str, str] = {}  # case_id -> area
        self._case_ids: dict[UUID, str] = {}  # SlaCase id -> case_id
        self._gauge_keys: set[tuple[str, ...]] = set()
        # Open clocks by due instant (entries of clocks since met, withdrawn or breached are
        # dropped when they reach the top): a tick looks only at what is due, not at every
        # open clock — a landlord's thousands of open clocks cost nothing until they fall due.
        self._due: list[tuple[datetime, int, UUID]] = []
        self._to_arm: list[tuple[datetime, int, UUID]] = []  # the same entries, consumed by `arm`
        self._armed: dict[UUID, SlaClock] = {}  # clocks due within ARM_AHEAD_S, loaded
        # Breaches this watch recorded (clock -> its version after): following them back from
        # the log needs no decoding, the watch knows what they say (a midnight's thousands).
        self._recorded_here: dict[UUID, int] = {}
        self._pushed = itertools.count()  # ties on the due instant break on an int, not a UUID
        self._export_every_s = export_every_s
        self._exported_at: datetime | None = None  # on the process clock, which tests control
        self._changed = True  # clocks or areas changed since the gauges were last set

    async def run(self) -> None:
        """`tick`, with the breaches recorded on the event loop's own thread, a batch at a time,
        and the store's reads in a worker thread. Recorded in a worker thread, 3,000 breaches due
        at one instant took 3 s on the stack against 0.7 s alone: after every call that lets go of
        the interpreter lock (compressing, encrypting, each insert) the sweep waited to get it back
        from the relay and the inbox. On the loop it takes turns with the relay between batches
        (which publishes each as it is committed) and holds the loop ~50 ms at a time."""
        await asyncio.to_thread(self.follow, False)  # memory from the store; history is not re-counted
        while True:
            await asyncio.to_thread(self.follow)
            if self.ready():
                swept = 0
                for batch in self._sweeping(process_clock().now()):
                    swept += len(batch)
                    await asyncio.sleep(0)  # the relay publishes what was just committed
                if swept:
                    await asyncio.to_thread(self.follow)
                await asyncio.to_thread(self.arm, process_clock().now())
            await asyncio.to_thread(self._export_if_due)  # a pass over every open clock, at times
            await asyncio.sleep(self._sleep_s())

    def tick(self) -> None:
        """One turn of the watch in the calling thread (what `run` does, for tests and tools)."""
        self.follow()
        if self.ready():
            if self.sweep(process_clock().now()):
                self.follow()
            self.arm(process_clock().now())
        self._export_if_due()

    def _export_if_due(self) -> None:
        # The gauges follow every change at once, and the passing of time (on track → due soon →
        # overdue) at least every `export_every_s`: not an O(open clocks) pass on every idle tick.
        now = process_clock().now()
        if self._changed or self._exported_at is None or (now - self._exported_at).total_seconds() >= self._export_every_s:
            self.export(now)

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
                if self._recorded_here and self._recorded_here.get(n.originator_id) == n.originator_version:
                    del self._recorded_here[n.originator_id]  # a breach this watch recorded: known
                    self._breached(n.originator_id, None, count)
                else:
                    self._apply(self._mapper.to_domain_event(n), count)
                self._position = n.id
                self._changed = True
            if len(page) < 1000:
                return

    def _apply(self, event: Any, count: bool) -> None:
        aggregate_id = event.originator_id
        if isinstance(event, SlaClock.Started):
            start = event.start
            self._open[aggregate_id] = OpenClock(
                start["kind"], start["service"], start["case_id"], start["due_at"], False
            )
            entry = (start["due_at"], next(self._pushed), aggregate_id)
            heapq.heappush(self._due, entry)
            heapq.heappush(self._to_arm, entry)
            return
        armed = self._armed.get(aggregate_id)
        if armed is not None and event.originator_version > armed.version:
            del self._armed[aggregate_id]  # changed since it was loaded: read again when due
        if isinstance(event, SlaClock.Breached):
            self._breached(aggregate_id, event.clock, count)
        elif isinstance(event, SlaClock.Met):
            self._open.pop(aggregate_id, None)
            if count:
                labels = self._labels(event.clock)
                m.MET.labels(*labels, "on_time" if event.on_time else "late").inc()
                waited = (event.met_at - event.clock["started_at"]).total_seconds()
                m.TIME_TO_MEET.labels(*labels).observe(max(waited, 0))
        elif isinstance(event, SlaClock.Withdrawn):
            self._open.pop(aggregate_id, None)
        elif isinstance(event, SlaCase.Registered):
            self._case_ids[aggregate_id] = event.case_id
        elif isinstance(event, SlaCase.AreaSet):
            case_id = self._case_ids.get(aggregate_id)
            if case_id is not None:
                self._areas[case_id] = event.area

    def _breached(self, aggregate_id: UUID, summary: dict[str, Any] | None, count: bool) -> None:
        """A clock's breach, from its event's summary or (None) from what the watch holds of it."""
        clock = self._open.get(aggregate_id)
        if clock is not None:
            clock.breached = True  # still open until met or withdrawn
        if count:
            if summary is None:
                assert clock is not None  # the watch recorded it: it was open
                summary = {"kind": clock.kind, "service": clock.service, "case_id": clock.case_id}
            m.BREACHES.labels(*self._labels(summary)).inc()

    def _labels(self, clock: dict[str, Any]) -> tuple[str, str, str]:
        """Metric labels from a clock's summary (as `Breached` and `Met` carry it)."""
        return clock["kind"], clock["service"], m.area_label(self._areas.get(clock["case_id"], ""))

    # ----- breaches ---------------------------------------------------------------------------------

    def sweep(self, now: datetime) -> int:
        """Record the breach of every open clock whose due instant (plus grace) has passed, in
        batches (one commit for many clocks due at the same midnight)."""
        return sum(len(batch) for batch in self._sweeping(now))

    def _sweeping(self, now: datetime) -> Iterator[list[UUID]]:
        """The sweep a batch at a time: yields the clocks each commit recorded, so that `run` can
        let the relay publish between batches."""
        due: list[UUID] = []
        while self._due and self._due[0][0] + self._grace <= now:
            _, _, aggregate_id = heapq.heappop(self._due)
            clock = self._open.get(aggregate_id)
            if clock is not None and not clock.breached and now >= clock.due_at + self._grace:
                due.append(aggregate_id)
        recorded: list[UUID] = []
        read_ahead, started = sum(1 for a in due if a in self._armed), time.perf_counter()
        for first in range(0, len(due), BATCH):
            clocks, retry = self._projection.breach_all_due(
                due[first:first + BATCH], now, self._grace, self._areas.get, self._armed, BATCH)
            batch = [c.id for c in clocks]
            self._recorded_here.update((c.id, c.version) for c in clocks)
            for aggregate_id in retry:  # a concurrent writer got there first: look again next tick
                clock = self._open.get(aggregate_id)
                if clock is not None:
                    heapq.heappush(self._due, (clock.due_at, next(self._pushed), aggregate_id))
            recorded += batch
            yield batch
        if recorded:
            kinds = Counter(f"{self._open[a].kind} ({self._open[a].service})" for a in recorded)
            # How late and how long: operations see at once a midnight the watch fell behind on.
            log.info("SLA breached: %s (up to %.2f s after due, recorded in %.2f s, %d of %d read ahead)",
                     ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
                     (now - min(self._open[a].due_at for a in recorded)).total_seconds(),
                     time.perf_counter() - started, read_ahead, len(due))

    def arm(self, now: datetime) -> int:
        """Load the open clocks falling due within ARM_AHEAD_S (for at most ARM_BUDGET_S)."""
        horizon, loaded = now + timedelta(seconds=ARM_AHEAD_S), 0
        until = time.perf_counter() + ARM_BUDGET_S
        while self._to_arm and self._to_arm[0][0] <= horizon:
            if loaded and time.perf_counter() >= until:
                break  # the rest next tick (at least one a tick: arming always moves on)
            due_at, _, aggregate_id = heapq.heappop(self._to_arm)
            clock = self._open.get(aggregate_id)
            if clock is None or clock.breached or clock.due_at != due_at or aggregate_id in self._armed:
                continue
            loaded += 1
            aggregate = self._projection.clock(aggregate_id)
            if aggregate is not None and aggregate.state == OPEN:
                self._armed[aggregate_id] = aggregate
        return loaded

    def _sleep_s(self) -> float:
        while self._due:
            due_at, _, aggregate_id = self._due[0]
            clock = self._open.get(aggregate_id)
            if clock is not None and not clock.breached and clock.due_at == due_at:
                wait = (due_at + self._grace - process_clock().now()).total_seconds()
                return min(self._tick_s, max(wait, 0.005))
            heapq.heappop(self._due)  # met, withdrawn or breached since: nothing to wait for
        return self._tick_s

    # ----- metrics ----------------------------------------------------------------------------------

    def export(self, now: datetime) -> None:
        self._exported_at, self._changed = now, False
        counts: dict[tuple[str, ...], int] = {}
        for clock in self._open.values():
            area = m.area_label(self._areas.get(clock.case_id, ""))
            base = (clock.kind, clock.service, area)
            if (*base, m.STATES[0]) not in counts:
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
