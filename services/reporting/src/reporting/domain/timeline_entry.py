"""One entry on a case's timeline: an event some service published about the case, as reporting
recorded it. One small aggregate per (case, event) — not one growing aggregate per case — so
recording an entry never replays the case's history, and a redelivered event finds its entry
by id (ADR 0018). Reads go through the timeline table, not through these aggregates."""

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
