"""An incoming event as a timeline entry: who, what, when (happened and recorded), a plain
summary, the deadlines it touched, and its published details (for exports and the dataset)."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from caseplatform.envelope import IncomingEvent
from reporting.domain.deadline_marks import deadline_effects, iso
from reporting.domain.summaries import summarise


def entry_from(event: IncomingEvent) -> dict[str, Any]:
    payload = event.payload
    return {
        "event_id": event.envelope.event_id,
        "case_id": event.case_id,
        "service": event.source_service,
        "event_type": event.event_type,
        "actor": event.actor.as_dict(),
        "occurred_at": iso(event.occurred_at),
        "recorded_at": iso(event.recorded_at),
        "notification_id": event.notification_id,
        "summary": summarise(event.event_type, payload),
        "deadlines": deadline_effects(event.event_type, payload) if payload is not None else [],
        "correction": is_correction(event.event_type),
        # What the event published (already free of personal details on Kafka; exports redact again).
        "details": _details(payload),
    }


def is_correction(event_type: str) -> bool:
    """intake.v1.DetailsCorrected and any later `…Corrected` event: a correction, shown as such."""
    return event_type.rsplit(".", 1)[-1].endswith("Corrected")


def _details(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    return MessageToDict(payload, preserving_proto_field_name=True)
