"""MARAC's pure rules (DOMAIN.md, SafeLives): the repeat flag's 12 months, persistent absence
(3 of the last 4 meetings) and the case-list window."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from caseplatform.calendar import LONDON
from marac.domain.rules import in_window, is_repeat, persistently_absent

REFERRED = date(2027, 3, 25)


def test_a_referral_364_days_after_the_last_is_a_repeat() -> None:
    assert is_repeat(REFERRED, [REFERRED - timedelta(days=364)])


def test_a_referral_366_days_after_the_last_is_not_a_repeat() -> None:
    assert not is_repeat(REFERRED, [REFERRED - timedelta(days=366)])


def test_twelve_months_is_calendar_months_even_across_a_leap_day() -> None:
    assert is_repeat(date(2028, 2, 29), [date(2027, 2, 28)])  # 366 days, but within 12 months
    assert not is_repeat(date(2028, 2, 29), [date(2027, 2, 27)])


def test_a_first_referral_is_not_a_repeat() -> None:
    assert not is_repeat(REFERRED, [])


def test_absent_from_3_of_the_last_4_meetings_is_persistent() -> None:
    assert persistently_absent(["ABSENT", "PRESENT", "ABSENT", "ABSENT"])
    assert persistently_absent(["PRESENT", "ABSENT", "ABSENT", "ABSENT"])


def test_only_the_last_4_meetings_count() -> None:
    assert not persistently_absent(["ABSENT", "ABSENT", "PRESENT", "PRESENT", "ABSENT", "ABSENT"][-5:])
    assert not persistently_absent(["ABSENT", "ABSENT", "PRESENT", "PRESENT", "ABSENT"])


def test_a_deputy_or_an_unrecorded_meeting_is_not_an_absence() -> None:
    assert not persistently_absent(["ABSENT", "DEPUTY", "ABSENT", "PRESENT"])
    assert not persistently_absent(["ABSENT", None, "ABSENT", "DEPUTY"])
    assert not persistently_absent(["ABSENT", "ABSENT"])


def test_the_case_list_window_is_after_the_previous_cut_off_up_to_this_one() -> None:
    previous = datetime(2027, 3, 1, tzinfo=LONDON)
    cut_off = datetime(2027, 3, 15, tzinfo=LONDON)
    assert in_window(cut_off, previous, cut_off)
    assert not in_window(previous, previous, cut_off)
    assert not in_window(cut_off + timedelta(seconds=1), previous, cut_off)
    assert in_window(datetime(2020, 1, 1, tzinfo=LONDON), None, cut_off)
