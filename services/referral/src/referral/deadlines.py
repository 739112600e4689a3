"""Each pathway's deadline, as a per-referral SLA clock (`clock_id = referral:<referral_id>`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.deadlines import Deadline, deadline
from caseplatform.marac_areas import MaracSchedule
from referral.domain.pathways import PATHWAYS, ReferralType
from referral.settings import MaracAreas, ReferralSettings


def clock_id(referral_id: UUID) -> str:
    return f"referral:{referral_id}"


class PathwayDeadlines:
    def __init__(self, calendar: WorkingDayCalendar, settings: ReferralSettings, areas: MaracAreas) -> None:
        self.calendar = calendar
        self.settings = settings
        self.areas = areas

    def schedule(self, area: str) -> MaracSchedule:
        return self.areas.for_area(area)

    def due(self, referral_type: ReferralType, referral_id: UUID, start: datetime, area: str = "") -> Deadline | None:
        """The deadline of a referral that became due at `start` (None: no clock for this pathway)."""
        kind = PATHWAYS[referral_type].deadline_kind
        if not kind:
            return None
        if referral_type == ReferralType.CHILDRENS_MARF:
            due = self.calendar.due_same_day(start)  # before midnight of the day received
        elif referral_type == ReferralType.MARAC:
            _meeting, cutoff, closes = self.schedule(area).next_listing(start, self.calendar)
            due = (cutoff, closes)
        elif referral_type == ReferralType.SPECIALIST_SUPPORT:
            due = self.calendar.due_after_working_days(start, self.settings.support_working_days)
        else:  # Housing Options and refuge: the same working day (the next one, if received on another)
            due = self.same_working_day(start)
        return {**deadline(kind, due), "clock_id": clock_id(referral_id)}

    def same_working_day(self, start: datetime):
        day = self.calendar.local_date(start)
        while not self.calendar.is_working_day(day):
            day += timedelta(days=1)
        return day, self.calendar.end_of_day(day)
