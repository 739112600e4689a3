"""An incoming event as a timeline entry: who, what, when (happened and recorded), a plain
summary, the deadlines it touched, and what it published.

An entry is stored as the contract's `reporting.v1.TimelineEntry`, built straight from the
envelope (its actor and timestamps copied, not converted), beside the event's own payload,
serialised. The plain-dict view that exports and the partnership dataset read (`entry_dict`)
is derived from those two when read: deriving it on every write cost three times the rest of
the row, and a rebuild writes a million rows (ADR 0025).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from google.protobuf.json_format import MessageToDict, ParseDict

from caseplatform.envelope import IncomingEvent, contract_class
from casework.reporting.v1 import reporting_pb2
from reporting.domain.deadline_marks import deadline_effects, iso_of
from reporting.domain.summaries import summarise

MARK = reporting_pb2.DeadlineMark
TimelineEntry = reporting_pb2.TimelineEntry
MARK_NUMBER = dict(MARK.items())  # a dict: MARK.Value is Python per call


class Row(NamedTuple):
    """One row of the timeline table (see `table.TimelineTable`)."""

    event_id: str
    case_id: str
    occurred_at: str  # iso_of: sorts as text as it sorts as time
    recorded_at: str
    service: str
    notification_id: int
    event_type: str
    message: bytes  # reporting.v1.TimelineEntry, serialised deterministically
    payload_type: str  # the payload's full name; "" when the type was unknown
    payload: bytes  # the payload as published (after upcasting), serialised


def timeline_row(event: IncomingEvent) -> Row:
    envelope, payload = event.envelope, event.payload
    event_id, event_type, service = envelope.event_id, envelope.event_type, envelope.source.service
    occurred_at, recorded_at = envelope.occurred_at, envelope.recorded_at
    entry = TimelineEntry(
        event_id=event_id, service=service, event_type=event_type, summary=summarise(event_type, payload),
        correction=is_correction(event_type), actor=envelope.actor, occurred_at=occurred_at, recorded_at=recorded_at,
    )
    if payload is not None:
        for effect in deadline_effects(event_type, payload):
            added = entry.deadlines.add(kind=effect.kind, clock_id=effect.clock_id, mark=MARK_NUMBER[effect.mark])
            if effect.due_at is not None:
                added.due_at.CopyFrom(effect.due_at)
    return Row(
        event_id, envelope.case_id, iso_of(occurred_at), iso_of(recorded_at), service,
        envelope.source.notification_id, event_type, entry.SerializeToString(deterministic=True),
        payload.DESCRIPTOR.full_name if payload is not None else "",
        payload.SerializeToString(deterministic=True) if payload is not None else b"",
    )


def entry_dict(case_id: str, notification_id: int, message: bytes, payload_type: str, payload: bytes) -> dict[str, Any]:
    """The entry as the plain dict exports and the dataset read."""
    entry = reporting_pb2.TimelineEntry.FromString(message)
    return {
        "event_id": entry.event_id,
        "case_id": case_id,
        "service": entry.service,
        "event_type": entry.event_type,
        "actor": {"agency": entry.actor.agency, "role": entry.actor.role, "user": entry.actor.user},
        "occurred_at": iso_of(entry.occurred_at),
        "recorded_at": iso_of(entry.recorded_at),
        "notification_id": int(notification_id),
        "summary": entry.summary,
        "deadlines": [
            {"kind": d.kind, "clock_id": d.clock_id, "mark": MARK.Name(d.mark),
             "due_at": iso_of(d.due_at) if d.HasField("due_at") else ""}
            for d in entry.deadlines
        ],
        "correction": entry.correction,
        # What the event published (already free of personal details on Kafka; exports redact again).
        "details": details(payload_type, payload),
    }


def details(payload_type: str, payload: bytes) -> dict[str, Any]:
    message = contract_class(payload_type)
    if message is None:
        return {}
    return MessageToDict(message.FromString(payload), preserving_proto_field_name=True)


def payload_from_details(event_type: str, found: dict[str, Any]) -> tuple[str, bytes]:
    """(payload_type, payload) again from an entry's `details` (rows written before ADR 0025)."""
    message = contract_class(event_type)
    if message is None or not found:
        return "", b""
    return event_type, ParseDict(found, message(), ignore_unknown_fields=True).SerializeToString(deterministic=True)


@functools.lru_cache(maxsize=1024)
def is_correction(event_type: str) -> bool:
    """intake.v1.DetailsCorrected and any later `…Corrected` event: a correction, shown as such."""
    return event_type.rsplit(".", 1)[-1].endswith("Corrected")
