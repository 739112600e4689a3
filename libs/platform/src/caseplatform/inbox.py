"""The tracked consumer's core: apply upstream events exactly once.

Positions of record are the upstream service's notification ids, tracked per source partition
(`<service>:<partition>`) in the library's tracking table, written in the same transaction as the
events the policy produced. Each message names its predecessor on the partition, so:

* id at or below the tracked one  → a duplicate (redelivery or republish): ignored;
* predecessor equals the tracked  → next in line: applied;
* predecessor beyond the tracked  → a gap (the broker lost something): held back, not applied —
  the relay replays, and the missing messages arrive later in the same partition.

A fetched batch is applied in one transaction with every partition's position in it
(ARCHITECTURE.md: one commit per message caps throughput; ADR 0027: one per partition's run made
a quiet stack's small batches, spread over every partition of every source, cost a commit each). A message the policy cannot apply is dead-lettered with the reason and
stepped over, so one bad event does not stop a partition — except one this build does not
understand yet (`caseplatform.enums.NotUnderstood`: a newer contract's enum value), which holds
its partition until a build that does is running (ADR 0038). The step over is recorded with it,
and `replay` applies the event once the defect is fixed, exactly once (ADR 0039). A store that
fails under a policy is not the event's fault: the batch fails and is read again.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from opentelemetry import trace

from caseplatform import metrics
from caseplatform.enums import NotUnderstood
from caseplatform.envelope import IncomingEvent
from caseplatform.identity import Actor, system_actor
from caseplatform.projection import RowWriter, TrackingWithRows
from caseplatform.replay_record import DeadLetterReplay, replay_record_id
from caseplatform.store import STORE_TROUBLE, ServiceApplication, Sql
from caseplatform.telemetry import context_from, tracer

log = logging.getLogger(__name__)


# Events applied in one transaction at most (whole runs: a longer run is a unit of its own).
# Bigger units commit less often but hold the store's write lock longer against commands.
UNIT_EVENTS = 500


def _groups(
    runs: Mapping[tuple[str, int], Sequence[IncomingEvent]], limit: int
) -> Iterator[dict[tuple[str, int], Sequence[IncomingEvent]]]:
    group: dict[tuple[str, int], Sequence[IncomingEvent]] = {}
    size = 0
    for key, events in runs.items():
        if group and size + len(events) > limit:
            yield group
            group, size = {}, 0
        group[key] = events
        size += len(events)
    if group:
        yield group


def _recorded(event: IncomingEvent) -> tuple[int, int]:
    stamp = event.envelope.recorded_at
    return stamp.seconds, stamp.nanos


def tracking_name(source_service: str, partition: int) -> str:
    return f"{source_service}:{partition}"


# A stepped-over event's own tracking row (ADR 0039): SET_ASIDE when the inbox steps over it,
# REPLAYED once a replay has applied it. The library's single-row tracking only ever moves a
# row forward, so a second replay (or a replica's racing one) fails to record: exactly once.
SET_ASIDE, REPLAYED = 1, 2


SET_ASIDE_PREFIX = "dead-letter/"


def set_aside_name(source_service: str, partition: int, notification_id: int) -> str:
    return f"{SET_ASIDE_PREFIX}{source_service}/{partition}/{notification_id}"


class Unit:
    """One transaction: the aggregates the policy touched for a run of messages."""

    def __init__(self, app: ServiceApplication, replay_requested_by: Actor | None = None) -> None:
        self._app = app
        self.processing = ProcessingEvent[UUID]()
        self.current: IncomingEvent | None = None
        self._replay_requested_by = replay_requested_by  # a dead letter's replay: who asked
        self._rows: dict[RowWriter, list[tuple[Any, ...]]] = {}

    def get(self, aggregate_id: UUID) -> Any | None:
        """An aggregate as this unit sees it (including changes not yet recorded), or None."""
        pending = self.processing.aggregates.get(aggregate_id)
        if pending is not None:
            return pending
        try:
            return self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def collect(self, *aggregates: Aggregate | None) -> None:
        processing = self.processing
        for aggregate in aggregates:
            if isinstance(aggregate, Aggregate):
                # What ProcessingEvent.collect_events does for an aggregate, without its
                # runtime-protocol isinstance checks (a tenth of a rebuild's time, profiled).
                processing.events.extend(aggregate.collect_events())
                processing.aggregates[aggregate.id] = aggregate
            elif aggregate is not None:
                processing.collect_events(aggregate)

    def add_row(self, writer: RowWriter, row: tuple[Any, ...]) -> None:
        """A read-model row to write in this unit's transaction, with its tracking record
        (ADR 0024): committed exactly when the events that led to it are marked applied."""
        self._rows.setdefault(writer, []).append(row)

    def tracking(self, name: str, notification_id: int, *also: Tracking) -> Tracking:
        """The unit's tracking record; `also`: other partitions' positions, in the same commit."""
        if not self._rows and not also:
            return Tracking(name, notification_id)
        rows = tuple((writer, tuple(rows)) for writer, rows in self._rows.items())
        return TrackingWithRows(name, notification_id, rows=rows, also=also)

    def meta(self) -> dict[str, Any]:
        """Metadata for events the policy records: the service acting, caused by the current event."""
        assert self.current is not None
        meta = self._app.meta(
            system_actor(self._app.service),
            caused_by=self.current.envelope.event_id,
            caused_by_actor=self.current.actor.as_dict(),
        )
        if self._replay_requested_by is not None:
            meta["replay_requested_by"] = self._replay_requested_by.as_dict()
        return meta


Policy = Callable[[IncomingEvent, Unit], None]


@dataclass
class BatchOutcome:
    processed: int = 0
    duplicates: int = 0
    gaps: int = 0
    dead_letters: list[tuple[IncomingEvent, str]] = field(default_factory=list)
    # Index, in the run given, of an event held for a newer build (ADR 0038): it and what follows
    # were not applied; the consumer reads the partition again from it a little later.
    held_at: int | None = None


class PolicyFailed(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class Held(PolicyFailed):
    """The policy does not understand the event yet (`NotUnderstood`): hold, do not step over."""


class NotSetAside(Exception):
    """A replay asked for an event the inbox has no record of stepping over."""


class Inbox:
    def __init__(
        self,
        app: ServiceApplication,
        policy: Policy,
        park: Callable[[str, int, IncomingEvent, str], None] | None = None,
    ) -> None:
        # park(source, partition, event, reason): hands a message the policy cannot apply to the
        # dead-letter topic. Called, and must succeed, *before* the inbox steps over it, so a
        # crash in between repeats the dead letter rather than losing it.
        self.app = app
        self._policy = policy
        self._park = park
        self._sql = Sql(app)

    def park_with(self, park: Callable[[str, int, IncomingEvent, str], None]) -> None:
        self._park = park

    def tracked(self, source_service: str, partition: int) -> int:
        return self.app.process_recorder.max_tracking_id(tracking_name(source_service, partition)) or 0

    def _tracked_many(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """`tracked` for several partitions in one read."""
        names = {tracking_name(*key): key for key in keys}
        rows = self._sql.query(
            f"SELECT application_name, MAX(notification_id) FROM {self._sql.tracking_table} "
            f"WHERE application_name IN ({', '.join('?' for _ in names)}) GROUP BY application_name",
            list(names),
        )
        found = {names[name]: int(position) for name, position in rows if position is not None}
        return {key: found.get(key, 0) for key in keys}

    def apply(self, source_service: str, partition: int, events: Sequence[IncomingEvent]) -> BatchOutcome:
        """Apply one partition's run of events (in offset order). Safe to call again with the same run."""
        outcome = BatchOutcome()
        remaining = list(events)
        for _attempt in range(3):
            try:
                self._apply_all(source_service, partition, remaining, outcome)
                break
            except IntegrityError:
                # Another replica (or a redelivery racing us) recorded first: re-read and retry;
                # what it recorded now counts as duplicates.
                log.info("inbox %s: concurrent write on %s:%s; retrying", self.app.service, source_service, partition)
        else:
            raise RuntimeError("inbox could not record batch after 3 attempts")
        self._count(source_service, outcome)
        return outcome

    def _apply_all(
        self, source_service: str, partition: int, events: list[IncomingEvent], outcome: BatchOutcome
    ) -> None:
        start = 0
        while start < len(events):
            try:
                self._apply_run(source_service, partition, events[start:], outcome)
                return
            except PolicyFailed as failed:
                # Record everything before the bad message, then step over it with its reason.
                index = start + failed.index
                self._apply_run(source_service, partition, events[start:index], outcome)
                bad = events[index]
                if isinstance(failed, Held):  # …or, not understood yet, stop there (ADR 0038)
                    log.warning("inbox %s: holding %s:%s at %d until a newer build: %s",
                                self.app.service, source_service, partition, bad.notification_id, failed.reason)
                    outcome.held_at = index
                    return
                if bad.previous_notification_id == self.tracked(source_service, partition):
                    if self._park is not None:
                        self._park(source_service, partition, bad, failed.reason)
                    # The step and its record (what a replay asks for: ADR 0039), in one commit.
                    unit = Unit(self.app)
                    self._record(unit, unit.tracking(
                        tracking_name(source_service, partition), bad.notification_id,
                        Tracking(set_aside_name(source_service, partition, bad.notification_id), SET_ASIDE),
                    ))
                    outcome.dead_letters.append((bad, failed.reason))
                start = index + 1

    def apply_batch(self, runs: Mapping[tuple[str, int], Sequence[IncomingEvent]]) -> dict[tuple[str, int], BatchOutcome]:
        """Apply a fetched batch — one run of events per (source service, partition) — in as
        few transactions as `UNIT_EVENTS` allows, each recording every partition's position it
        covers. A commit per partition's run made small batches cost several times what they
        applied (a batch spans up to every partition of every source). A run the policy fails
        on, or a write another replica raced, sends the batch through `apply` run by run, which
        steps over a bad message and retries a race; nothing of the failed unit was recorded."""
        outcomes: dict[tuple[str, int], BatchOutcome] = {}
        for group in _groups(runs, UNIT_EVENTS):
            if len(group) > 1:
                try:
                    outcomes.update(self._apply_together(group))
                    continue
                except (PolicyFailed, IntegrityError):
                    log.info("inbox %s: a batch falls back to one unit per partition", self.app.service)
            for (source_service, partition), events in group.items():
                outcomes[(source_service, partition)] = self.apply(source_service, partition, events)
        return outcomes

    def _apply_together(self, group: Mapping[tuple[str, int], Sequence[IncomingEvent]]) -> dict[tuple[str, int], BatchOutcome]:
        unit = Unit(self.app)
        outcomes = {key: BatchOutcome() for key in group}
        last = self._tracked_many(list(group))
        names = {key: tracking_name(*key) for key in group}
        # Across partitions, in the order the sources recorded the events (each partition's own
        # order kept): a case's disclosure before the assessment another service made of it,
        # when both came in one batch, as the policies expect of events that caused each other.
        for _, index, key, event in heapq.merge(*(
            [(_recorded(event), index, key, event) for index, event in enumerate(events)] for key, events in group.items()
        )):
            last[key] = self._apply_next(unit, names[key], last[key], event, index, outcomes[key])
        moved = [Tracking(names[key], last[key]) for key in group if outcomes[key].processed]
        if moved:
            self._record(unit, unit.tracking(moved[0].application_name, moved[0].notification_id, *moved[1:]))
        for (source_service, _), outcome in outcomes.items():
            self._count(source_service, outcome)
        return outcomes

    def _apply_run(
        self, source_service: str, partition: int, events: Sequence[IncomingEvent], outcome: BatchOutcome
    ) -> None:
        unit = Unit(self.app)
        run = BatchOutcome()  # counted into `outcome` once recorded (a unit can be retried)
        last = self._apply_events(unit, source_service, partition, events, run, self.tracked(source_service, partition))
        if run.processed:
            self._record(unit, unit.tracking(tracking_name(source_service, partition), last))
        outcome.processed += run.processed
        outcome.duplicates += run.duplicates
        outcome.gaps += run.gaps

    def _apply_events(
        self, unit: Unit, source_service: str, partition: int, events: Sequence[IncomingEvent],
        outcome: BatchOutcome, last: int,
    ) -> int:
        """Apply a partition's run into `unit` from position `last` (recording nothing); the
        position reached."""
        name = tracking_name(source_service, partition)
        for index, event in enumerate(events):
            last = self._apply_next(unit, name, last, event, index, outcome)
        return last

    def _apply_next(
        self, unit: Unit, name: str, last: int, event: IncomingEvent, index: int, outcome: BatchOutcome
    ) -> int:
        """Apply `event` into `unit` if it is next on its partition (at position `last`); the position after."""
        if event.notification_id <= last:
            outcome.duplicates += 1
            return last
        if event.previous_notification_id != last:
            outcome.gaps += 1
            log.warning(
                "inbox %s: gap on %s (have %d, message follows %d); waiting for replay",
                self.app.service, name, last, event.previous_notification_id,
            )
            return last
        self._apply_one(event, unit, index)
        outcome.processed += 1
        return event.notification_id

    def _apply_one(self, event: IncomingEvent, unit: Unit, index: int) -> None:
        unit.current = event
        with tracer().start_as_current_span(
            f"process {event.event_type}",
            context=context_from(event.headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "casework.consumer": self.app.service,
                "casework.source": event.source_service,
                "casework.notification_id": event.notification_id,
            },
        ):
            if event.payload_error is not None:
                raise PolicyFailed(index, f"unreadable payload: {event.payload_error}")
            if event.payload is None:
                return  # an event type this service does not know: nothing to do
            try:
                self._policy(event, unit)
            except NotUnderstood as exc:
                raise Held(index, str(exc)) from exc
            except STORE_TROUBLE:
                # The store, not the event (a connection lost, a disk error): the batch fails and
                # is read again; nothing is set aside.
                raise
            except Exception as exc:
                log.exception("inbox %s: policy failed on %s", self.app.service, event.event_type)
                raise PolicyFailed(index, f"{type(exc).__name__}: {exc}") from exc

    def set_aside_state(self, partition: int, event: IncomingEvent) -> int | None:
        """SET_ASIDE or REPLAYED for an event this inbox stepped over (read from its source's
        `partition`); None if it has no record of that (the event was applied after all, or has
        not been read again yet)."""
        return self.app.process_recorder.max_tracking_id(
            set_aside_name(event.source_service, partition, event.notification_id))

    def pending_dead_letters(self) -> int:
        """Events stepped over and not replayed yet, from the store: the same on every replica."""
        rows = self._sql.query(
            f"SELECT COUNT(*) FROM {self._sql.tracking_table} WHERE application_name LIKE ? AND notification_id = ?",
            [f"{SET_ASIDE_PREFIX}%", SET_ASIDE],
        )
        return int(rows[0][0])

    def replay(self, partition: int, event: IncomingEvent, requested_by: Actor) -> bool:
        """Apply a dead-lettered event through the policy, in one transaction with its record and
        with who asked (`DeadLetterReplay`; the events it causes name them too): True if applied
        now, False if a replay already had. Raises `NotSetAside` for an event this inbox did not
        step over, and `PolicyFailed` (`Held`) if the policy still fails on it (nothing recorded)."""
        name = set_aside_name(event.source_service, partition, event.notification_id)
        for _attempt in range(3):
            state = self.app.process_recorder.max_tracking_id(name)
            if state is None:
                raise NotSetAside(f"{event.source_service}:{partition} #{event.notification_id} "
                                  f"was not stepped over by {self.app.service}")
            if state >= REPLAYED:
                return False
            unit = Unit(self.app, replay_requested_by=requested_by)
            self._apply_one(event, unit, 0)
            unit.collect(DeadLetterReplay(
                place=name, case_id=event.case_id, event_id=event.envelope.event_id, event_type=event.event_type,
                agency=requested_by.agency, role=requested_by.role, user=requested_by.user,
            ))
            try:
                self._record(unit, unit.tracking(name, REPLAYED))
                break
            except IntegrityError:
                # A racing write to an aggregate it touched (a batch), or another replica's replay
                # of it: nothing of this unit was recorded; look again.
                log.info("inbox %s: a replay raced another write; retrying", self.app.service)
        else:
            raise RuntimeError("inbox could not record the replay after 3 attempts")
        metrics.EVENTS_CONSUMED.labels(self.app.service, event.source_service, "replayed").inc()
        log.info("inbox %s: replayed %s:%s #%d", self.app.service, event.source_service, partition,
                 event.notification_id)
        return True

    def replay_record(self, partition: int, event: IncomingEvent) -> DeadLetterReplay | None:
        """Who replayed this stepped-over event and when; None if it was not replayed (or was
        replayed before replays were recorded)."""
        try:
            return self.app.repository.get(replay_record_id(
                set_aside_name(event.source_service, partition, event.notification_id)))
        except AggregateNotFoundError:
            return None

    def _record(self, unit: Unit, tracking: Tracking) -> None:
        unit.processing.tracking = tracking
        self.app._record(unit.processing)  # the library's own path for processed events
        self.app._snapshot(unit.processing)  # as `save` does, best effort

    def _count(self, source_service: str, outcome: BatchOutcome) -> None:
        counter = metrics.EVENTS_CONSUMED
        service = self.app.service
        counter.labels(service, source_service, "processed").inc(outcome.processed)
        counter.labels(service, source_service, "duplicate").inc(outcome.duplicates)
        counter.labels(service, source_service, "gap").inc(outcome.gaps)
        counter.labels(service, source_service, "dead_lettered").inc(len(outcome.dead_letters))
        counter.labels(service, source_service, "held").inc(outcome.held_at is not None)
