"""Grading a DASH assessment (DOMAIN.md "Risk: DASH RIC"; SafeLives' MARAC referral criteria).

Pure rules, no framework: the same inputs always give the same grade and criteria.

* HIGH when any MARAC criterion applies, and the criteria that applied are recorded:
  - visible high risk: 14 or more "yes" answers on the SafeLives RIC;
  - professional judgement: the officer's reasoned view that the risk is high, even below 14
    (a judgement can only raise a grade: it never downgrades 14 or more);
  - potential escalation: 3 or more incidents reported to the police in the past 12 months.
  (The fourth criterion, repeat, needs the MARAC referral history and is not computed here.)
* Below the threshold, local bands (commonly 10-13 "yes" MEDIUM, fewer STANDARD; configurable)
  and the officer's recorded grading, which may raise a banded grade but never lower it.
* A DASH received from the police is not re-scored: its grade is the police's. Only a criterion
  this service is told of (professional judgement, escalation) can raise it, never lower it — a
  met MARAC criterion always means HIGH (SafeLives: any one criterion is enough).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RIC_QUESTIONS = 24            # SafeLives DASH Risk Identification Checklist
POLICE_DASH_QUESTIONS = 27    # the police's own DASH
VISIBLE_HIGH_RISK_MIN_YES = 14
ESCALATION_MIN_CALLOUTS = 3


class Grade(StrEnum):
    STANDARD = "STANDARD"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Grade.STANDARD: 0, Grade.MEDIUM: 1, Grade.HIGH: 2}


class Trigger(StrEnum):
    VISIBLE_HIGH_RISK = "visible_high_risk"
    PROFESSIONAL_JUDGEMENT = "professional_judgement"
    ESCALATION = "escalation"
    REPEAT = "repeat"  # reserved: lands with MARAC referral history


@dataclass(frozen=True)
class Bands:
    """Local bands below the MARAC threshold: `medium_min_yes` or more "yes" answers is MEDIUM,
    fewer is STANDARD. 14 or more is always HIGH (visible high risk), whatever the bands."""

    medium_min_yes: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.medium_min_yes <= VISIBLE_HIGH_RISK_MIN_YES:
            raise ValueError(f"medium_min_yes must be between 0 and {VISIBLE_HIGH_RISK_MIN_YES}")

    def band(self, yes_count: int) -> Grade:
        return Grade.MEDIUM if yes_count >= self.medium_min_yes else Grade.STANDARD


DEFAULT_BANDS = Bands()


@dataclass(frozen=True)
class Grading:
    grade: Grade
    triggers: tuple[Trigger, ...]


def grade_ric(
    yes_count: int,
    *,
    professional_judgement: bool = False,
    police_callouts: int = 0,
    officer_grade: Grade | None = None,
    bands: Bands = DEFAULT_BANDS,
) -> Grading:
    """Grade a SafeLives DASH RIC from its "yes" count and what the officer adds."""
    if yes_count < 0 or police_callouts < 0:
        raise ValueError("counts cannot be negative")
    # The officer recording HIGH is a professional judgement that the risk is high.
    judged_high = professional_judgement or officer_grade == Grade.HIGH
    triggers = _criteria(
        visible_high_risk=yes_count >= VISIBLE_HIGH_RISK_MIN_YES,
        professional_judgement=judged_high,
        police_callouts=police_callouts,
    )
    if triggers:
        return Grading(Grade.HIGH, triggers)
    banded = bands.band(yes_count)
    if officer_grade is not None and officer_grade.rank > banded.rank:
        banded = officer_grade  # the officer may raise a banded grade, never lower it
    return Grading(banded, ())


def grade_police_dash(
    police_grade: Grade, *, professional_judgement: bool = False, police_callouts: int = 0
) -> Grading:
    """A police DASH keeps the police's grade (not re-scored); a criterion given can only raise it."""
    if police_callouts < 0:
        raise ValueError("counts cannot be negative")
    triggers = _criteria(
        visible_high_risk=False, professional_judgement=professional_judgement, police_callouts=police_callouts
    )
    return Grading(Grade.HIGH if triggers else police_grade, triggers)


def _criteria(*, visible_high_risk: bool, professional_judgement: bool, police_callouts: int) -> tuple[Trigger, ...]:
    applied = (
        (Trigger.VISIBLE_HIGH_RISK, visible_high_risk),
        (Trigger.PROFESSIONAL_JUDGEMENT, professional_judgement),
        (Trigger.ESCALATION, police_callouts >= ESCALATION_MIN_CALLOUTS),
    )
    return tuple(trigger for trigger, applies in applied if applies)


def is_rise(previous: Grade | None, new: Grade) -> bool:
    """A rise in risk, to be escalated to the CSO: only from an earlier assessment."""
    return previous is not None and new.rank > previous.rank
