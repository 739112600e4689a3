"""The Area aggregate: one MARAC area's meeting schedule, and its register of cases listed (by
referral or by transfer in), from which each meeting's case list is read."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id
from marac.domain.rules import in_window


class Area(CaseAggregate):
    @staticmethod
    def create_id(area: str, **_: Any) -> UUID:
        return stable_id("marac", "area", area)

    @event("AreaOpened")
    def __init__(self, *, area: str, meta: dict[str, Any]) -> None:
        self.area = area
        self.meetings: list[dict[str, Any]] = []  # {meeting_id, meeting_date (ISO), cut_off_at}, by date
        self.register: list[dict[str, Any]] = []  # {case_id, referral_id, listed_at, transferred_from}
        self.absences_reported: list[str] = []  # "<agency>@<meeting_id>"

    # -- schedule --------------------------------------------------------------------------

    @event("MeetingAdded")
    def add_meeting(self, *, meeting_id: str, meeting_date: str, cut_off_at: datetime, meta: dict[str, Any]) -> None:
        self.meetings.append({"meeting_id": meeting_id, "meeting_date": meeting_date, "cut_off_at": cut_off_at})
        self.meetings.sort(key=lambda m: m["meeting_date"])

    def last_meeting_date(self) -> str | None:
        return self.meetings[-1]["meeting_date"] if self.meetings else None

    def previous_cut_off(self, meeting_id: str) -> datetime | None:
        """The latest cut-off before this meeting's: where its case list starts."""
        mine = self._meeting(meeting_id)["cut_off_at"]
        earlier = [m["cut_off_at"] for m in self.meetings if m["cut_off_at"] < mine]
        return max(earlier) if earlier else None

    def meetings_up_to(self, meeting_id: str) -> list[str]:
        """The area's meetings on or before this one's date, oldest first."""
        day = self._meeting(meeting_id)["meeting_date"]
        return [m["meeting_id"] for m in self.meetings if m["meeting_date"] <= day]

    def _meeting(self, meeting_id: str) -> dict[str, Any]:
        return next(m for m in self.meetings if m["meeting_id"] == meeting_id)

    # -- the register of listed cases ------------------------------------------------------

    def is_listed(self, case_id: str, referral_id: str) -> bool:
        return any(e["case_id"] == case_id and e["referral_id"] == referral_id for e in self.register)

    @event("CaseRegistered")
    def register_case(
        self, *, case_id: str, referral_id: str, listed_at: datetime, transferred_from: str, meta: dict[str, Any]
    ) -> None:
        self.register.append(
            {"case_id": case_id, "referral_id": referral_id, "listed_at": listed_at, "transferred_from": transferred_from}
        )

    def case_list(self, meeting_id: str) -> list[dict[str, Any]]:
        after, up_to = self.previous_cut_off(meeting_id), self._meeting(meeting_id)["cut_off_at"]
        listed = [e for e in self.register if in_window(e["listed_at"], after, up_to)]
        return sorted(listed, key=lambda e: e["listed_at"])

    # -- attendance ------------------------------------------------------------------------

    def absence_reported(self, agency: str, meeting_id: str) -> bool:
        return f"{agency}@{meeting_id}" in self.absences_reported

    @event("PersistentAbsence")
    def report_persistent_absence(
        self, *, area: str, agency: str, meeting_id: str, absences: int, of_meetings: int, meta: dict[str, Any]
    ) -> None:
        self.absences_reported.append(f"{agency}@{meeting_id}")
