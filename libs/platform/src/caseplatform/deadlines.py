"""A deadline ("SLA clock" start) as events carry it: kind, due instant and local due date.

Pure data helpers shared by every service's domain and translation layers.
"""

from __future__ import annotations

from datetime import date, datetime

from caseplatform.envelope import from_timestamp, to_timestamp
from casework.common.v1 import envelope_pb2

Deadline = dict[str, str]


def deadline(kind: str, due: tuple[date, datetime]) -> Deadline:
    due_date, due_at = due
    return {"kind": kind, "due_at": due_at.isoformat(), "due_date": due_date.isoformat()}


def deadline_message(d: Deadline) -> envelope_pb2.Deadline:
    return envelope_pb2.Deadline(
        kind=d["kind"], due_at=to_timestamp(datetime.fromisoformat(d["due_at"])), due_date=d["due_date"]
    )


def deadline_from_message(message: envelope_pb2.Deadline) -> Deadline:
    return {
        "kind": message.kind,
        "due_at": from_timestamp(message.due_at).isoformat(),
        "due_date": message.due_date,
    }
