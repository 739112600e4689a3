"""The deadlines a disclosure starts (seed 001 §3–§5; DOMAIN.md "The case journey").

Deadlines run from when the disclosure was *received*, not when it was recorded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

from caseplatform.deadlines import Deadline, deadline

SAFE_CONTACT = "SAFE_CONTACT"            # safe contact with the victim within 1 working day
CASE_RECORDED = "CASE_RECORDED"          # case recorded within 1 working day of receipt
CHILDRENS_REFERRAL = "CHILDRENS_REFERRAL"  # MARF to the duty team before midnight, same day


class WorkingCalendar(Protocol):
    def due_after_working_days(self, start: datetime, days: int) -> tuple[date, datetime]: ...
    def due_same_day(self, start: datetime) -> tuple[date, datetime]: ...
    def local_date(self, instant: datetime) -> date: ...


def disclosure_deadlines(
    received_at: datetime,
    has_children: bool,
    calendar: WorkingCalendar,
    preferred_contact_at: datetime | None = None,
) -> list[Deadline]:
    # Safe contact within 1 working day — or at the time the discloser prefers, when given.
    safe_contact = calendar.due_after_working_days(received_at, 1)
    if preferred_contact_at is not None and preferred_contact_at > received_at:
        at = preferred_contact_at.astimezone(UTC)
        safe_contact = (calendar.local_date(at), at)
    deadlines = [
        deadline(SAFE_CONTACT, safe_contact),
        deadline(CASE_RECORDED, calendar.due_after_working_days(received_at, 1)),
    ]
    if has_children:  # even if not present at any incident, even if known to social services
        deadlines.append(deadline(CHILDRENS_REFERRAL, calendar.due_same_day(received_at)))
    return deadlines
