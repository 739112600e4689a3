"""The Meeting aggregate: one MARAC meeting of an area — its date, its case-list cut-off, and who
attended (the agency, its representative, present, absent or a deputy)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


class Meeting(CaseAggregate):
    @staticmethod
    def create_id(area: str, meeting_date: str, **_: Any) -> UUID:
        """One meeting per area and date: scheduling it again finds the same meeting."""
        return stable_id("marac", "meeting", area, meeting_date)

    @event("MeetingScheduled")
    def __init__(self, *, area: str, meeting_date: str, cut_off_at: datetime, meta: dict[str, Any]) -> None:
        self.area = area
        self.meeting_date = meeting_date
        self.cut_off_at = cut_off_at
        self.attendance: dict[str, dict[str, Any]] = {}  # agency → {representative, status, recorded_at}

    def status_of(self, agency: str) -> str | None:
        entry = self.attendance.get(agency)
        return entry["status"] if entry else None

    def record_attendance(
        self, *, agency: str, representative: str, status: str, recorded_at: datetime, meta: dict[str, Any]
    ) -> bool:
        """Record (or correct) an agency's attendance; False if it is already recorded so."""
        current = self.attendance.get(agency)
        if current and (current["representative"], current["status"]) == (representative, status):
            return False
        self._attendance_recorded(
            area=self.area, agency=agency, representative=representative, status=status,
            recorded_at=recorded_at, meta=meta,
        )
        return True

    @event("AttendanceRecorded")
    def _attendance_recorded(
        self, *, area: str, agency: str, representative: str, status: str, recorded_at: datetime, meta: dict[str, Any]
    ) -> None:
        self.attendance[agency] = {"representative": representative, "status": status, "recorded_at": recorded_at}
