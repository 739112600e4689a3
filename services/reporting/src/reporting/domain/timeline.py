"""The CaseTimeline aggregate: every event any service published about one case, as recorded
entries, so a regulator's timeline is rebuilt from events and never hand-kept."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


class CaseTimeline(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("reporting", "timeline", case_id)

    @event("TimelineStarted")
    def __init__(self, *, case_id: str) -> None:
        self.case_id = case_id
        self.entries: list[dict[str, Any]] = []
        self._event_ids: set[str] = set()

    def has(self, event_id: str) -> bool:
        return event_id in self._event_ids

    def record(self, entry: dict[str, Any]) -> None:
        if not self.has(entry["event_id"]):  # an event is on a timeline once, however often delivered
            self._record(entry=entry)

    @event("EntryRecorded")
    def _record(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self._event_ids.add(entry["event_id"])

    def ordered(self) -> list[dict[str, Any]]:
        """By when it happened; ties by when recorded, then by source and position."""
        return sorted(
            self.entries,
            key=lambda e: (e["occurred_at"], e["recorded_at"], e["service"], e["notification_id"]),
        )
