"""Which deadlines (SLA clocks) an event started, met, breached or withdrew — read from the
event's own `common.v1.Deadline`, `DeadlineMet` and `DeadlineWithdrawn` fields, so the timeline
needs nothing from the SLA engine. Pure: protobuf messages in, `Effect`s out."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

DEADLINE = "common.v1.Deadline"
DEADLINE_MET = "common.v1.DeadlineMet"
DEADLINE_WITHDRAWN = "common.v1.DeadlineWithdrawn"


class Effect(NamedTuple):
    kind: str
    clock_id: str
    mark: str  # a reporting.v1.DeadlineMark name
    due_at: Any = None  # the event's own google.protobuf.Timestamp, when it says


def deadline_effects(event_type: str, payload: Any) -> list[Effect]:
    fields, legacy = _plan(payload.DESCRIPTOR), _marks_in_own_words(event_type)
    if not fields and not legacy:
        return []  # most events: no deadline field, no marks in their own words (a rebuild asks a million times)
    effects: list[Effect] = []
    for name, kind, repeated in fields:
        if repeated:
            values = getattr(payload, name)
        elif payload.HasField(name):
            values = (getattr(payload, name),)
        else:
            continue
        for value in values:
            if not value.kind:
                continue
            if kind == DEADLINE:
                effects.append(_from_deadline(payload, value))
            elif kind == DEADLINE_MET:
                effects.append(Effect(value.kind, value.clock_id, "MET" if value.on_time else "MET_LATE"))
            else:
                effects.append(Effect(value.kind, value.clock_id, "WITHDRAWN"))
    if legacy:
        effects += _legacy_marks(event_type, payload, effects)
    return _unique(effects)


@functools.cache
def _plan(descriptor: Any) -> tuple[tuple[str, str, bool], ...]:
    """Once per message type: its deadline fields, in field order (name, which kind, repeated)."""
    return tuple(
        (field.name, field.message_type.full_name, field.is_repeated)
        for field in descriptor.fields
        if field.message_type is not None and field.message_type.full_name in DEADLINE_TYPES
    )


@functools.cache
def _marks_in_own_words(event_type: str) -> bool:
    """Whether `_legacy_marks` may find anything in an event of this type (it goes by the short name)."""
    return event_type.rsplit(".", 1)[-1] in LEGACY_MARKERS


DEADLINE_TYPES = frozenset({DEADLINE, DEADLINE_MET, DEADLINE_WITHDRAWN})
LEGACY_MARKERS = frozenset({"SafeContactRecorded", "SlaBreached"})


def _from_deadline(payload: Any, deadline: Any) -> Effect:
    """A Deadline field starts a clock — except on events that carry the deadline they met
    together with an `on_time` flag (risk.v1.RiskAssessed, repairs.v1.WorkCompleted)."""
    due_at = deadline.due_at if deadline.HasField("due_at") else None
    fields = payload.DESCRIPTOR.fields_by_name
    if "on_time" in fields and getattr(payload, "satisfies_deadline", True):
        return Effect(deadline.kind, deadline.clock_id, "MET" if payload.on_time else "MET_LATE", due_at)
    return Effect(deadline.kind, deadline.clock_id, "STARTED", due_at)


def _legacy_marks(event_type: str, payload: Any, found: list[Effect]) -> list[Effect]:
    """Marks for events that say so in their own words rather than with DeadlineMet."""
    short = event_type.rsplit(".", 1)[-1]
    if short == "SafeContactRecorded" and not found and _enum(payload, "outcome") == "MADE":
        return [Effect("SAFE_CONTACT", "", "MET" if payload.deadline_met else "MET_LATE")]
    if short == "SlaBreached":  # the SLA engine's own event, read by field name
        kind = getattr(payload, "kind", "") or getattr(payload, "sla_kind", "")
        if kind:
            return [Effect(str(kind), str(getattr(payload, "clock_id", "")), "BREACHED")]
    return []


def _unique(effects: list[Effect]) -> list[Effect]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in effects:
        key = (e.kind, e.clock_id, e.mark)
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


def iso(instant: datetime) -> str:
    """UTC, fixed width: sorts as text in SQL the same way it sorts as time."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_EPOCH_DAY = date(1970, 1, 1).toordinal()


def iso_of(ts: Any) -> str:
    """`iso` of a google.protobuf.Timestamp, formatted from its fields: a rebuild formats two per
    event, and a datetime on the way cost twice as much. Events come in runs close in time, so
    the text up to the minute is remembered."""
    seconds = ts.seconds
    return f"{_minute(seconds // 60)}{seconds % 60:02d}.{ts.nanos // 1000:06d}Z"


@functools.lru_cache(maxsize=65536)
def _minute(minutes_since_epoch: int) -> str:
    day, minute = divmod(minutes_since_epoch, 1440)
    return f"{date.fromordinal(_EPOCH_DAY + day).isoformat()}T{minute // 60:02d}:{minute % 60:02d}:"
