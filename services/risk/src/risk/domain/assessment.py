"""The RiskAssessment aggregate: a case's DASH risk record — the assessment due, and (with the
risk issue) every assessment made, its grade, triggers and source."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id

RISK_ASSESSMENT = "RISK_ASSESSMENT"  # deadline kind: a DASH assessment within 1 working day


class RiskAssessment(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("risk", "assessment", case_id)

    @event("AssessmentRequired")
    def __init__(self, *, case_id: str, deadline: dict[str, str], meta: dict[str, Any]) -> None:
        # Do not presume an assessment exists (seed 001 §3.1): one is due on every case.
        self.case_id = case_id
        self.deadline = deadline
        self.assessment_due = True
