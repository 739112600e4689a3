"""The DASH grading rules (pure): SafeLives' MARAC criteria, local bands, the officer's grading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain.grading import (
    Bands,
    Grade,
    Trigger,
    grade_police_dash,
    grade_ric,
    is_rise,
)

yes_counts = st.integers(min_value=0, max_value=24)
callouts = st.integers(min_value=0, max_value=50)
grades = st.sampled_from(list(Grade))
optional_grades = st.none() | grades
bands = st.builds(Bands, medium_min_yes=st.integers(min_value=0, max_value=14))


def rank(grade: Grade) -> int:
    return [Grade.STANDARD, Grade.MEDIUM, Grade.HIGH].index(grade)


# -- examples -------------------------------------------------------------------------------


def test_fourteen_yes_is_high_visible_high_risk() -> None:
    graded = grade_ric(14)
    assert graded.grade is Grade.HIGH
    assert graded.triggers == (Trigger.VISIBLE_HIGH_RISK,)


def test_thirteen_yes_and_three_police_callouts_is_high_by_escalation() -> None:
    graded = grade_ric(13, police_callouts=3)
    assert graded.grade is Grade.HIGH
    assert graded.triggers == (Trigger.ESCALATION,)


def test_thirteen_yes_alone_is_medium_not_high() -> None:
    graded = grade_ric(13)
    assert graded.grade is Grade.MEDIUM
    assert graded.triggers == ()


def test_two_police_callouts_are_not_escalation() -> None:
    assert grade_ric(13, police_callouts=2).grade is Grade.MEDIUM


@pytest.mark.parametrize(("yes", "grade"), [(0, Grade.STANDARD), (9, Grade.STANDARD), (10, Grade.MEDIUM), (13, Grade.MEDIUM)])
def test_default_bands_ten_to_thirteen_medium_fewer_standard(yes: int, grade: Grade) -> None:
    assert grade_ric(yes).grade is grade


def test_professional_judgement_raises_below_fourteen() -> None:
    graded = grade_ric(3, professional_judgement=True)
    assert graded.grade is Grade.HIGH
    assert graded.triggers == (Trigger.PROFESSIONAL_JUDGEMENT,)


def test_professional_judgement_never_downgrades_fourteen_or_more() -> None:
    # "professional_judgement_high = False" is not a judgement that the risk is lower.
    assert grade_ric(14, professional_judgement=False).grade is Grade.HIGH
    # An officer's recorded grading below the threshold cannot lower a visible high risk either.
    assert grade_ric(20, officer_grade=Grade.STANDARD).grade is Grade.HIGH
    both = grade_ric(16, professional_judgement=True)
    assert both.grade is Grade.HIGH
    assert both.triggers == (Trigger.VISIBLE_HIGH_RISK, Trigger.PROFESSIONAL_JUDGEMENT)


def test_every_criterion_that_applied_is_recorded_in_order() -> None:
    graded = grade_ric(18, professional_judgement=True, police_callouts=4)
    assert graded.triggers == (Trigger.VISIBLE_HIGH_RISK, Trigger.PROFESSIONAL_JUDGEMENT, Trigger.ESCALATION)


def test_repeat_is_reserved_and_never_computed_here() -> None:
    assert Trigger.REPEAT.value == "repeat"
    assert Trigger.REPEAT not in grade_ric(24, professional_judgement=True, police_callouts=99).triggers


def test_bands_are_configurable() -> None:
    strict = Bands(medium_min_yes=7)
    assert grade_ric(7, bands=strict).grade is Grade.MEDIUM
    assert grade_ric(6, bands=strict).grade is Grade.STANDARD
    assert grade_ric(7).grade is Grade.STANDARD  # the default band starts at 10
    # Whatever the bands, 14 is the SafeLives threshold, not a band.
    assert grade_ric(14, bands=Bands(medium_min_yes=14)).grade is Grade.HIGH
    assert grade_ric(13, bands=Bands(medium_min_yes=14)).grade is Grade.STANDARD


@pytest.mark.parametrize("bad", [-1, 15])
def test_bands_outside_the_scale_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="medium_min_yes"):
        Bands(medium_min_yes=bad)


def test_officer_grading_raises_a_banded_grade_never_lowers_it() -> None:
    assert grade_ric(4, officer_grade=Grade.MEDIUM).grade is Grade.MEDIUM
    assert grade_ric(12, officer_grade=Grade.STANDARD).grade is Grade.MEDIUM
    assert grade_ric(12, officer_grade=Grade.STANDARD).triggers == ()


def test_an_officer_grading_of_high_is_a_professional_judgement() -> None:
    graded = grade_ric(2, officer_grade=Grade.HIGH)
    assert (graded.grade, graded.triggers) == (Grade.HIGH, (Trigger.PROFESSIONAL_JUDGEMENT,))


def test_a_police_dash_keeps_the_police_grade_and_is_not_re_scored() -> None:
    graded = grade_police_dash(Grade.MEDIUM)
    assert (graded.grade, graded.triggers) == (Grade.MEDIUM, ())
    assert grade_police_dash(Grade.HIGH) == grade_police_dash(Grade.HIGH, police_callouts=1)
    assert grade_police_dash(Grade.HIGH).triggers == ()


def test_a_police_dash_is_raised_only_by_a_criterion_given_here() -> None:
    escalated = grade_police_dash(Grade.STANDARD, police_callouts=3)
    assert (escalated.grade, escalated.triggers) == (Grade.HIGH, (Trigger.ESCALATION,))
    judged = grade_police_dash(Grade.MEDIUM, professional_judgement=True)
    assert (judged.grade, judged.triggers) == (Grade.HIGH, (Trigger.PROFESSIONAL_JUDGEMENT,))


def test_a_rise_needs_an_earlier_grade() -> None:
    assert is_rise(Grade.MEDIUM, Grade.HIGH)
    assert is_rise(Grade.STANDARD, Grade.MEDIUM)
    assert not is_rise(Grade.HIGH, Grade.MEDIUM)
    assert not is_rise(Grade.MEDIUM, Grade.MEDIUM)
    assert not is_rise(None, Grade.HIGH)


# -- properties -----------------------------------------------------------------------------


@given(yes=yes_counts, calls=callouts, judged=st.booleans(), officer=optional_grades, b=bands)
def test_fourteen_or_more_yes_is_always_high(yes: int, calls: int, judged: bool, officer: Grade | None, b: Bands) -> None:
    graded = grade_ric(max(yes, 14), police_callouts=calls, professional_judgement=judged, officer_grade=officer, bands=b)
    assert graded.grade is Grade.HIGH
    assert Trigger.VISIBLE_HIGH_RISK in graded.triggers


@given(yes=yes_counts, calls=callouts, judged=st.booleans(), officer=optional_grades, b=bands)
def test_monotonic_in_yes_count(yes: int, calls: int, judged: bool, officer: Grade | None, b: Bands) -> None:
    kw = {"police_callouts": calls, "professional_judgement": judged, "officer_grade": officer, "bands": b}
    assert rank(grade_ric(yes, **kw).grade) <= rank(grade_ric(yes + 1, **kw).grade)


@given(yes=yes_counts, calls=callouts, judged=st.booleans(), officer=optional_grades, b=bands)
def test_monotonic_in_police_callouts(yes: int, calls: int, judged: bool, officer: Grade | None, b: Bands) -> None:
    kw = {"professional_judgement": judged, "officer_grade": officer, "bands": b}
    assert rank(grade_ric(yes, police_callouts=calls, **kw).grade) <= rank(grade_ric(yes, police_callouts=calls + 1, **kw).grade)


@given(yes=yes_counts, calls=callouts, officer=optional_grades, b=bands)
def test_professional_judgement_never_lowers_and_always_makes_high(yes: int, calls: int, officer: Grade | None, b: Bands) -> None:
    without = grade_ric(yes, police_callouts=calls, officer_grade=officer, bands=b)
    judged = grade_ric(yes, police_callouts=calls, officer_grade=officer, bands=b, professional_judgement=True)
    assert rank(judged.grade) >= rank(without.grade)
    assert judged.grade is Grade.HIGH
    assert set(without.triggers) <= set(judged.triggers)


@given(yes=yes_counts, calls=callouts, judged=st.booleans(), officer=grades, b=bands)
def test_officer_grading_never_lowers(yes: int, calls: int, judged: bool, officer: Grade, b: Bands) -> None:
    kw = {"police_callouts": calls, "professional_judgement": judged, "bands": b}
    with_officer = grade_ric(yes, officer_grade=officer, **kw)
    assert rank(with_officer.grade) >= rank(grade_ric(yes, **kw).grade)
    assert rank(with_officer.grade) >= rank(officer)


@given(yes=yes_counts, calls=callouts, judged=st.booleans(), officer=optional_grades, b=bands)
def test_high_exactly_when_a_criterion_applied(yes: int, calls: int, judged: bool, officer: Grade | None, b: Bands) -> None:
    graded = grade_ric(yes, police_callouts=calls, professional_judgement=judged, officer_grade=officer, bands=b)
    assert (graded.grade is Grade.HIGH) == bool(graded.triggers)
    assert (Trigger.ESCALATION in graded.triggers) == (calls >= 3)
    assert (Trigger.VISIBLE_HIGH_RISK in graded.triggers) == (yes >= 14)


@given(yes=st.integers(min_value=0, max_value=13), b=bands)
def test_below_the_threshold_without_criteria_the_band_decides(yes: int, b: Bands) -> None:
    expected = Grade.MEDIUM if yes >= b.medium_min_yes else Grade.STANDARD
    assert grade_ric(yes, police_callouts=2, bands=b).grade is expected


@given(police=grades, calls=callouts, judged=st.booleans())
def test_a_police_dash_grade_is_never_lowered_and_raised_only_by_criteria(police: Grade, calls: int, judged: bool) -> None:
    graded = grade_police_dash(police, police_callouts=calls, professional_judgement=judged)
    assert rank(graded.grade) >= rank(police)
    if not graded.triggers:
        assert graded.grade is police
    else:
        assert graded.grade is Grade.HIGH
    assert Trigger.VISIBLE_HIGH_RISK not in graded.triggers  # not re-scored
