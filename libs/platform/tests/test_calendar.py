from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caseplatform.calendar import LONDON, WorkingDayCalendar
from caseplatform.clock import ControlledClock, OffsetClock

cal = WorkingDayCalendar()


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_good_friday_evening_is_due_on_tuesday_after_easter_monday() -> None:
    due_date, due_at = cal.due_after_working_days(london(2027, 3, 26, 17, 30), 1)
    assert due_date == date(2027, 3, 30)
    assert due_at == london(2027, 3, 31, 0, 0).astimezone(UTC)


def test_christmas_eve_is_due_after_boxing_day_substitute() -> None:
    # 25 Dec Fri, 26 Sat, 27 Sun, 28 Mon is Boxing Day (substitute): due Tuesday 29th.
    due_date, _ = cal.due_after_working_days(london(2026, 12, 24, 10, 0), 1)
    assert due_date == date(2026, 12, 29)


def test_friday_before_ordinary_weekend_is_due_monday() -> None:
    assert cal.due_after_working_days(london(2026, 11, 20, 21, 0), 1)[0] == date(2026, 11, 23)


def test_local_day_decides_not_utc_day() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST): the clock runs from 1 July (Thu).
    start = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)
    assert cal.local_date(start) == date(2027, 7, 1)
    assert cal.due_after_working_days(start, 1)[0] == date(2027, 7, 2)


def test_same_day_deadline_is_local_midnight() -> None:
    day, due_at = cal.due_same_day(london(2027, 3, 26, 17, 30))
    assert day == date(2027, 3, 26)
    assert due_at == london(2027, 3, 27, 0, 0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.due_after_working_days(datetime(2027, 1, 4, 9, 0), 1)


def test_extra_closure_days_are_not_working_days() -> None:
    closed = WorkingDayCalendar(extra_closures=[date(2027, 1, 4)])
    assert closed.due_after_working_days(london(2027, 1, 1, 9, 0), 1)[0] == date(2027, 1, 5)


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


@given(day=days, n=st.integers(min_value=0, max_value=30))
def test_adding_working_days_lands_on_a_working_day_and_counts_exactly(day: date, n: int) -> None:
    due = cal.add_working_days(day, n)
    counted = sum(
        cal.is_working_day(day + timedelta(days=i)) for i in range(1, (due - day).days + 1)
    )
    assert counted == n
    if n:
        assert cal.is_working_day(due)


@given(day=days, a=st.integers(0, 15), b=st.integers(0, 15))
def test_working_days_compose(day: date, a: int, b: int) -> None:
    assert cal.add_working_days(cal.add_working_days(day, a), b) == cal.add_working_days(day, a + b)


def test_controlled_clock_moves_only_when_told() -> None:
    clock = ControlledClock(london(2027, 3, 26, 17, 30))
    first = clock.now()
    clock.advance(timedelta(hours=1))
    assert clock.now() - first == timedelta(hours=1)
    assert clock.now().tzinfo is UTC


def test_shifted_clocks_with_one_anchor_agree_whenever_each_started() -> None:
    # Two services of a training stack, started (or restarted) 90 s apart, read the same time.
    real = ControlledClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    start = datetime(2027, 3, 26, 17, 40, tzinfo=LONDON)
    anchor = real.now()
    first = OffsetClock(start, base=real, anchor=anchor)
    real.advance(timedelta(seconds=90))
    second = OffsetClock(start, base=real, anchor=anchor)
    unanchored = OffsetClock(start, base=real)
    assert first.now() == second.now() == start + timedelta(seconds=90)
    assert unanchored.now() == start, "without an anchor a process's clock starts when it does"
