"""An incoming event as a timeline entry: who, what, when (happened and recorded), a plain
summary, the deadlines it touched, and what it published.

A row keeps the event's envelope as published, beside what the table is indexed by and the
entry (`reporting.v1.TimelineEntry`) derived from it. The live consumer derives the entry as it
writes the row; a rebuild stages envelopes only and each entry is derived when first needed by a
read (ADR 0042): parsing and deriving every event was most of a rebuild's cost. The plain-dict
view that exports and the partnership dataset read is derived from the envelope when read.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, NamedTuple

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.message import DecodeError

from caseplatform.envelope import (
    IncomingEvent,
    UnreadableMessage,
    contract_class,
    current_schema_version,
    parse_envelope,
    to_timestamp,
)
from casework.common.v1 import envelope_pb2
from casework.reporting.v1 import reporting_pb2
from reporting.access_log import AUDIT_EVENT, is_audit
from reporting.domain.deadline_marks import deadline_effects, iso_of
from reporting.domain.summaries import summarise

MARK = reporting_pb2.DeadlineMark
TimelineEntry = reporting_pb2.TimelineEntry
EventEnvelope = envelope_pb2.EventEnvelope
MARK_NUMBER = dict(MARK.items())  # a dict: MARK.Value is Python per call


class Row(NamedTuple):
    """One row of the timeline table (see `table.TimelineTable`): the event as published, and
    what the table is indexed and ordered by (ADR 0042)."""

    event_id: str
    case_id: str
    occurred_at: int  # nanoseconds since the epoch, UTC (`ns_of`)
    recorded_at: int
    service: str
    notification_id: int
    event_type: str
    envelope: bytes  # common.v1.EventEnvelope, as published
    entry: bytes  # reporting.v1.TimelineEntry, serialised; b"" (a rebuilt row): derived when read


def ns_of(ts: Any) -> int:
    """A google.protobuf.Timestamp as the table orders and filters by it: integers, not text
    (formatting two instants per event was a third of a rebuild's work per row)."""
    return ts.seconds * 1_000_000_000 + ts.nanos


def ns_of_iso(text: str) -> int:
    """An ISO instant (`deadline_marks.iso`) as `ns_of` gives it."""
    return ns_of(to_timestamp(datetime.fromisoformat(text)))


def on_timeline(event: IncomingEvent) -> bool:
    """What a timeline shows: an event about a case that this build can read (the read audit
    never: it goes to access logs)."""
    return bool(event.case_id) and event.payload is not None and event.payload_error is None and not is_audit(event)


def timeline_row(event: IncomingEvent) -> Row:
    """The row of an event the live consumer applies (already parsed), its entry derived now."""
    envelope = event.envelope
    return Row(
        envelope.event_id, envelope.case_id, ns_of(envelope.occurred_at), ns_of(envelope.recorded_at),
        envelope.source.service, envelope.source.notification_id, envelope.event_type, envelope.SerializeToString(),
        _entry(event).SerializeToString(deterministic=True),
    )


def row_from_message(value: bytes) -> Row | None:
    """The row of a message read off a topic, or None for one no timeline shows. The envelope is
    parsed, not its payload: a rebuild reads a million of them, and entries are derived when read.
    Skipped as the live consumer skips them: unreadable, no case, a payload type unknown here."""
    envelope = EventEnvelope()
    try:
        envelope.ParseFromString(value)
    except DecodeError:
        return None
    event_type, case_id, source = envelope.event_type, envelope.case_id, envelope.source
    service, notification_id = source.service, source.notification_id
    if not (case_id and event_type and service and notification_id) or event_type == AUDIT_EVENT:
        return None
    if contract_class(event_type) is None:
        return None
    return Row(envelope.event_id, case_id, ns_of(envelope.occurred_at), ns_of(envelope.recorded_at),
               service, notification_id, event_type, value, b"")


def _shown(value: bytes) -> IncomingEvent | None:
    """A stored envelope parsed, or None for an event no timeline shows (its payload unreadable
    by this build)."""
    try:
        event = parse_envelope(value)
    except UnreadableMessage:
        return None
    return event if on_timeline(event) else None


def _entry(event: IncomingEvent) -> TimelineEntry:
    envelope, payload = event.envelope, event.payload
    event_type = envelope.event_type
    entry = TimelineEntry(
        event_id=envelope.event_id, service=envelope.source.service, event_type=event_type,
        summary=summarise(event_type, payload), correction=is_correction(event_type), actor=envelope.actor,
        occurred_at=envelope.occurred_at, recorded_at=envelope.recorded_at,
    )
    if payload is not None:
        for effect in deadline_effects(event_type, payload):
            added = entry.deadlines.add(kind=effect.kind, clock_id=effect.clock_id, mark=MARK_NUMBER[effect.mark])
            if effect.due_at is not None:
                added.due_at.CopyFrom(effect.due_at)
    return entry


def entry_bytes(envelope: bytes | None, entry: bytes = b"") -> bytes | None:
    """A row's entry as a serialised `reporting.v1.TimelineEntry`: as stored, or derived from its
    envelope when the row has none (a rebuilt row); None for an event no timeline shows."""
    if entry:
        return bytes(entry)
    if not envelope:
        return None
    event = _shown(bytes(envelope))
    return _entry(event).SerializeToString(deterministic=True) if event is not None else None


def entry_dict(value: bytes, stored: bytes = b"") -> dict[str, Any] | None:
    """The entry as the plain dict exports and the dataset read, or None (see `_shown`); the
    row's stored entry when it has one (its payload is still read from the envelope)."""
    event = _shown(value)
    if event is None:
        return None
    entry = TimelineEntry.FromString(stored) if stored else _entry(event)
    return {
        "event_id": entry.event_id,
        "case_id": event.case_id,
        "service": entry.service,
        "event_type": entry.event_type,
        "actor": {"agency": entry.actor.agency, "role": entry.actor.role, "user": entry.actor.user},
        "occurred_at": iso_of(entry.occurred_at),
        "recorded_at": iso_of(entry.recorded_at),
        "notification_id": int(event.notification_id),
        "summary": entry.summary,
        "deadlines": [
            {"kind": d.kind, "clock_id": d.clock_id, "mark": MARK.Name(d.mark),
             "due_at": iso_of(d.due_at) if d.HasField("due_at") else ""}
            for d in entry.deadlines
        ],
        "correction": entry.correction,
        # What the event published (already free of personal details on Kafka; exports redact again).
        "details": MessageToDict(event.payload, preserving_proto_field_name=True),
    }


def stored_envelope(
    *, event_id: str, case_id: str, service: str, notification_id: int, event_type: str, actor: Any,
    occurred_at: Any, recorded_at: Any, payload_type: str, payload: bytes,
) -> bytes:
    """An envelope again from what earlier table shapes kept of an event (ADR 0042): enough for
    its entry to be derived as any other's. The payload was kept after upcasting, so it is
    labelled with its type's current schema version."""
    envelope = EventEnvelope(
        event_id=event_id, event_type=event_type, schema_version=current_schema_version(event_type),
        case_id=case_id, occurred_at=occurred_at, recorded_at=recorded_at, actor=actor,
        source=envelope_pb2.Source(service=service, notification_id=notification_id),
    )
    envelope.payload.type_url = f"type.googleapis.com/{payload_type or event_type}"
    envelope.payload.value = payload
    return envelope.SerializeToString(deterministic=True)


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
