"""A tiny service used to test the kernel without any real service's domain."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.enums import enum_name
from caseplatform.envelope import (
    IncomingEvent,
    OutgoingEvent,
    SourcePosition,
    build_envelope,
    parse_envelope,
)
from caseplatform.identity import Actor
from caseplatform.ids import stable_id
from caseplatform.inbox import Inbox, Unit
from caseplatform.kafka.admin import ensure_topics
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from caseplatform.topology import dead_letter_topic_for, topic_for
from casework.intake.v1 import events_pb2

ACTOR = Actor(agency="landlord", role="CHO", user="u-1")


class Counter(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("test", "counter", case_id)

    @event("Opened")
    def __init__(self, *, case_id: str, meta: dict[str, Any]) -> None:
        self.case_id = case_id
        self.seen: list[str] = []

    @event("Seen")
    def see(self, event_id: str, meta: dict[str, Any]) -> None:
        self.seen.append(event_id)


class CounterApp(ServiceApplication):
    """Counts, per case, every DisclosureReceived it applies; refuses tenant ref 'POISON'; reads
    the channel by name, so a channel newer than this build is not understood (ADR 0038)."""

    understands_channel: int | None = None  # a newer build: this unknown number reads as "NEWER"
    refuses: str | None = "POISON"  # None: a build with the defect fixed (ADR 0039's replays)

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        assert isinstance(event.payload, events_pb2.DisclosureReceived)
        if event.payload.tenant_ref == self.refuses:
            raise ValueError("cannot apply this one")
        if event.payload.channel != self.understands_channel:
            enum_name(event.payload, "channel")
        counter = unit.get(Counter.create_id(event.case_id)) or Counter(case_id=event.case_id, meta=unit.meta())
        counter.see(event.envelope.event_id, meta=unit.meta())
        unit.collect(counter)


def incoming(
    case_id: str, notification_id: int, previous: int, *, partition: int = 0, tenant_ref: str = "T-1",
    source: str = "intake", recorded_at: Any = None, channel: int = 0,
) -> IncomingEvent:
    from datetime import UTC, datetime

    outgoing = OutgoingEvent(
        case_id=case_id,
        payload=events_pb2.DisclosureReceived(case_id=case_id, tenant_ref=tenant_ref, channel=channel),
        occurred_at=datetime(2027, 3, 26, 17, 30, tzinfo=UTC),
    )
    envelope = build_envelope(
        outgoing,
        aggregate_id=stable_id("agg", case_id, notification_id),
        aggregate_version=1,
        recorded_at=recorded_at or datetime(2027, 3, 26, 17, 31, tzinfo=UTC),
        actor=ACTOR,
        source=SourcePosition(source, notification_id, partition, previous),
    )
    return parse_envelope(envelope.SerializeToString())


async def counting_consumer(bootstrap: str, data_dir: Path) -> tuple[PlatformSettings, CounterApp, Inbox]:
    """A "risk" service of counters that reads intake's topic on a real broker: its settings, app
    and inbox, the topics made (intake's and risk's dead letters, three partitions)."""
    settings = PlatformSettings(casework_data_dir=data_dir, kafka_bootstrap_servers=bootstrap)
    await ensure_topics(bootstrap, [topic_for("intake"), dead_letter_topic_for("risk")], 3)
    app = CounterApp("risk", settings)
    return settings, app, Inbox(app, app.policy)


async def until(check: Callable[[], bool], timeout_s: float, what: str = "") -> None:
    give_up = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < give_up, f"{what or 'condition'}: not reached in {timeout_s}s"
        await asyncio.sleep(0.1)
