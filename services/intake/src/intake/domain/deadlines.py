"""The deadlines a disclosure starts (seed 001 §3–§5; DOMAIN.md "The case journey").

Deadlines run from when the disclosure was *received*, not when it was recorded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from caseplatform.deadlines import Deadline, deadline

SAFE_CONTACT = "SAFE_CONTACT"            # safe contact with the victim within 1 working day
CASE_RECORDED = "CASE_RECORDED"          # case recorded within 1 working day of receipt
CHILDRENS_REFERRAL = "CHILDRENS_REFERRAL"  # MARF to the duty team before midnight, same day


class WorkingCalendar(Protocol):
    def due_after_working_days(self, start: datetime, days: int) -> tuple[date, datetime]: ...
    def due_same_day(self, start: datetime) -> tuple[date, datetime]: ...


def disclosure_deadlines(
    received_at: datetime, has_children: bool, calendar: WorkingCalendar
) -> list[Deadline]:
    deadlines = [
        deadline(SAFE_CONTACT, calendar.due_after_working_days(received_at, 1)),
        deadline(CASE_RECORDED, calendar.due_after_working_days(received_at, 1)),
    ]
    if has_children:  # even if not present at any incident, even if known to social services
        deadlines.append(deadline(CHILDRENS_REFERRAL, calendar.due_same_day(received_at)))
    return deadlines
