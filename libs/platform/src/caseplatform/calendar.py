"""Working days in England and Wales, in Europe/London time.

"Within 1 working day" (DOMAIN.md) means: by the end of the first working day after the day
the clock started. A Friday-evening disclosure before a bank-holiday Monday is due by the end of
Tuesday; one received on a non-working day is due by the end of the next working day.
Bank holidays come from the maintained `holidays` package (subdivision WLS), never a hand list.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


class WorkingDayCalendar:
    def __init__(self, subdivision: str = "WLS", extra_closures: Iterable[date] = ()) -> None:
        # extra_closures: local organisation closure days (e.g. a one-off bank holiday
        # announced after the package release), configurable per deployment.
        self._subdivision = subdivision
        self._extra = frozenset(extra_closures)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays("GB", subdiv=self._subdivision)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays and day not in self._extra

    def local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(LONDON).date()

    def add_working_days(self, day: date, days: int) -> date:
        """The date `days` working days after `day` (`day` itself need not be a working day)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = day
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def end_of_day(self, day: date) -> datetime:
        """The instant (UTC) at which the local day ends: midnight in London."""
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=LONDON).astimezone(UTC)

    def due_after_working_days(self, start: datetime, days: int) -> tuple[date, datetime]:
        """Due date and instant for "within `days` working days" of `start`."""
        due = self.add_working_days(self.local_date(start), days)
        return due, self.end_of_day(due)

    def due_same_day(self, start: datetime) -> tuple[date, datetime]:
        """Due before midnight of the (local) day `start` falls on, working day or not."""
        day = self.local_date(start)
        return day, self.end_of_day(day)


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous: pass a timezone-aware instant")
    return instant
