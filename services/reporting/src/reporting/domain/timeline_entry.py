"""One entry on a case's timeline, as reporting recorded it before ADR 0024 (one small aggregate
per (case, event), ADR 0018). Nothing records these any more: timeline rows are written in the
inbox's transaction. The class stays so that stores written earlier can still be read; their
entries are copied into the timeline table once (`TimelineTable.copy_recorded_entries`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


class TimelineEntry(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, event_id: str, **_: Any) -> UUID:
        return stable_id("reporting", "timeline-entry", case_id, event_id)

    @event("Recorded")
    def __init__(self, *, case_id: str, event_id: str, entry: dict[str, Any]) -> None:
        self.case_id = case_id
        self.event_id = event_id
        self.entry = entry
