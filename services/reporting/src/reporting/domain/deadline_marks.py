"""Which deadlines (SLA clocks) an event started, met, breached or withdrew — read from the
event's own `common.v1.Deadline`, `DeadlineMet` and `DeadlineWithdrawn` fields, so the timeline
needs nothing from the SLA engine. Pure: protobuf messages in, plain dicts out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caseplatform.envelope import from_timestamp

DEADLINE = "common.v1.Deadline"
DEADLINE_MET = "common.v1.DeadlineMet"
DEADLINE_WITHDRAWN = "common.v1.DeadlineWithdrawn"


def deadline_effects(event_type: str, payload: Any) -> list[dict[str, Any]]:
    effects: list[dict[str, Any]] = []
    for field, value in _message_fields(payload):
        name = field.message_type.full_name
        if name == DEADLINE and value.kind:
            effects.append(_from_deadline(payload, value))
        elif name == DEADLINE_MET and value.kind:
            effects.append(_effect(value.kind, value.clock_id, "MET" if value.on_time else "MET_LATE"))
        elif name == DEADLINE_WITHDRAWN and value.kind:
            effects.append(_effect(value.kind, value.clock_id, "WITHDRAWN"))
    effects += _legacy_marks(event_type, payload, effects)
    return _unique(effects)


def _from_deadline(payload: Any, deadline: Any) -> dict[str, Any]:
    """A Deadline field starts a clock — except on events that carry the deadline they met
    together with an `on_time` flag (risk.v1.RiskAssessed, repairs.v1.WorkCompleted)."""
    due_at = _iso(deadline.due_at) if deadline.HasField("due_at") else ""
    fields = payload.DESCRIPTOR.fields_by_name
    if "on_time" in fields and getattr(payload, "satisfies_deadline", True):
        return _effect(deadline.kind, deadline.clock_id, "MET" if payload.on_time else "MET_LATE", due_at)
    return _effect(deadline.kind, deadline.clock_id, "STARTED", due_at)


def _legacy_marks(event_type: str, payload: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Marks for events that say so in their own words rather than with DeadlineMet."""
    short = event_type.rsplit(".", 1)[-1]
    if short == "SafeContactRecorded" and not found and _enum(payload, "outcome") == "MADE":
        return [_effect("SAFE_CONTACT", "", "MET" if payload.deadline_met else "MET_LATE")]
    if short == "SlaBreached":  # the SLA engine's own event, read by field name
        kind = getattr(payload, "kind", "") or getattr(payload, "sla_kind", "")
        if kind:
            return [_effect(str(kind), str(getattr(payload, "clock_id", "")), "BREACHED")]
    return []


def _message_fields(payload: Any):
    for field in payload.DESCRIPTOR.fields:
        if field.message_type is None:
            continue
        if field.is_repeated:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in getattr(payload, field.name):
                yield field, item
        elif payload.HasField(field.name):
            yield field, getattr(payload, field.name)


def _effect(kind: str, clock_id: str, mark: str, due_at: str = "") -> dict[str, Any]:
    return {"kind": kind, "clock_id": clock_id, "mark": mark, "due_at": due_at}


def _unique(effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in effects:
        key = (e["kind"], e["clock_id"], e["mark"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _enum(message: Any, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name.get(field)
    if descriptor is None or descriptor.enum_type is None:
        return ""
    value = descriptor.enum_type.values_by_number.get(getattr(message, field))
    return value.name if value else ""


def _iso(ts: Any) -> str:
    return iso(from_timestamp(ts))


def iso(instant: datetime) -> str:
    """UTC, fixed width: sorts as text in SQL the same way it sorts as time."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
