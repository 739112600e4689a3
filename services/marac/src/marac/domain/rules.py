"""MARAC's pure rules: the repeat flag, persistent absence and the case-list window.

- Repeat (SafeLives, DOMAIN.md): a new MARAC referral for a victim who had one in the previous
  12 months. "12 months" is calendar months in Europe/London dates: a referral on 25 March 2027 is a
  repeat of one on or after 25 March 2026 (364 days earlier: repeat; 366 days: not).
- Persistent absence (issue #5): an agency absent from 3 of the area's last 4 meetings. A deputy
  counts as attending; a meeting where the agency's attendance was not recorded is not an absence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum

REPEAT_MONTHS = 12
ABSENCE_WINDOW = 4
ABSENCE_THRESHOLD = 3


class AttendanceStatus(StrEnum):
    PRESENT = "PRESENT"
    ABSENT = "ABSENT"
    DEPUTY = "DEPUTY"


def twelve_months_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February: a year earlier there is none, the 28th is the same day
        return day.replace(year=day.year - 1, day=28)


def is_repeat(referred_on: date, earlier_referrals_on: Iterable[date]) -> bool:
    """Whether a MARAC referral on `referred_on` follows another within the previous 12 months."""
    start = twelve_months_before(referred_on)
    return any(start <= earlier <= referred_on for earlier in earlier_referrals_on)


def absences(statuses: Sequence[str | None]) -> int:
    """Absences among the last meetings' statuses (oldest first; None: not recorded)."""
    return sum(1 for s in statuses[-ABSENCE_WINDOW:] if s == AttendanceStatus.ABSENT)


def persistently_absent(statuses: Sequence[str | None]) -> bool:
    return absences(statuses) >= ABSENCE_THRESHOLD


def in_window(instant: datetime, after: datetime | None, up_to: datetime) -> bool:
    """A case belongs to a meeting's list when it arrived after the previous meeting's cut-off and
    no later than this meeting's."""
    return (after is None or instant > after) and instant <= up_to
