"""A timeline entry (the projection's dict) as the contract's `reporting.v1.TimelineEntry`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caseplatform.envelope import to_timestamp
from casework.common.v1 import envelope_pb2
from casework.reporting.v1 import reporting_pb2


def entry_message(e: dict[str, Any]) -> reporting_pb2.TimelineEntry:
    return reporting_pb2.TimelineEntry(
        event_id=e["event_id"],
        service=e["service"],
        event_type=e["event_type"],
        actor=envelope_pb2.Actor(**e["actor"]),
        occurred_at=to_timestamp(_instant(e["occurred_at"])),
        recorded_at=to_timestamp(_instant(e["recorded_at"])),
        summary=e["summary"],
        deadlines=[_effect(d) for d in e.get("deadlines", [])],
        correction=bool(e.get("correction")),
    )


def _effect(d: dict[str, Any]) -> reporting_pb2.DeadlineEffect:
    effect = reporting_pb2.DeadlineEffect(kind=d["kind"], clock_id=d["clock_id"], mark=reporting_pb2.DeadlineMark.Value(d["mark"]))
    if d.get("due_at"):
        effect.due_at.CopyFrom(to_timestamp(_instant(d["due_at"])))
    return effect


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def instant_of(text: str) -> Any:
    """An ISO instant as a google.protobuf.Timestamp."""
    return to_timestamp(_instant(text))
