"""The aggregate base every service's domain uses: `eventsourcing`'s Aggregate, with event
timestamps (the recorded-at time) read from the process clock, so tests and replays control it."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate

from caseplatform.clock import process_clock


class CaseAggregate(Aggregate):
    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return process_clock().now()

    class Created(Event, Aggregate.Created):
        pass
