"""The RiskAssessment aggregate: a case's DASH risk record — the assessment due, every assessment
made (its grade, the MARAC criteria that applied, who assessed and when), and rises in risk."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id
from risk.domain.grading import Grade, Grading, is_rise

RISK_ASSESSMENT = "RISK_ASSESSMENT"  # deadline kind: a DASH assessment within 1 working day


def assessment_id_for(case_id: str, idempotency_scope: str, idempotency_key: str) -> UUID:
    """The same (case, caller agency, key) always names the same assessment (ADR 0006)."""
    return stable_id("risk", "dash", case_id, idempotency_scope, idempotency_key)


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
        self.assessments: list[dict[str, Any]] = []
        self.deadline_outcome: dict[str, Any] | None = None

    # -- queries ---------------------------------------------------------------------------

    def find(self, assessment_id: str) -> dict[str, Any] | None:
        return next((a for a in self.assessments if a["assessment_id"] == assessment_id), None)

    def history(self) -> list[dict[str, Any]]:
        """Oldest first: by when each assessment was completed, ties in the order recorded (a
        police DASH done last week but received today takes its place in the past)."""
        return sorted(self.assessments, key=lambda a: a["completed_at"])

    @property
    def current(self) -> dict[str, Any] | None:
        history = self.history()
        return history[-1] if history else None

    @property
    def current_grade(self) -> str | None:
        current = self.current
        return current["grade"] if current else None

    # -- commands --------------------------------------------------------------------------

    def record_assessment(
        self,
        *,
        assessment_id: str,
        request_hash: str,
        checklist: str,
        answers: list[dict[str, Any]],
        grading: Grading,
        yes_count: int,
        source: str,
        assessed_by: str,
        completed_at: datetime,
        recorded_at: datetime,
        safe_to_talk: bool,
        professional_judgement_high: bool,
        professional_judgement_reason: str,
        police_callouts_12_months: int,
        officer_grade: str | None,
        police_grade: str | None,
        meta: dict[str, Any],
    ) -> None:
        """Record one assessment. The first one recorded meets the RISK_ASSESSMENT deadline
        (whoever made it: "unless one exists"); one that becomes the latest with a higher grade
        than the latest before it is a rise in risk, escalated to the CSO."""
        previous = self.current
        satisfies_deadline = self.assessment_due
        due_at = datetime.fromisoformat(self.deadline["due_at"])
        # Met on time only if it was done *and* on the record by the due instant: until it is
        # recorded, nobody relying on the case can see it.
        on_time = satisfies_deadline and completed_at <= due_at and recorded_at <= due_at
        self._assessed(
            case_id=self.case_id,
            assessment_id=assessment_id,
            request_hash=request_hash,
            checklist=checklist,
            answers=[dict(a) for a in answers],
            grade=str(grading.grade),
            triggers=[str(t) for t in grading.triggers],
            yes_count=yes_count,
            source=source,
            assessed_by=assessed_by,
            completed_at=completed_at,
            recorded_at=recorded_at,
            safe_to_talk=safe_to_talk,
            professional_judgement_high=professional_judgement_high,
            professional_judgement_reason=professional_judgement_reason,
            police_callouts_12_months=police_callouts_12_months,
            officer_grade=officer_grade,
            police_grade=police_grade,
            satisfies_deadline=satisfies_deadline,
            deadline=dict(self.deadline) if satisfies_deadline else None,
            on_time=on_time,
            meta=meta,
        )
        becomes_current = previous is None or completed_at >= previous["completed_at"]
        if (
            previous is not None
            and becomes_current
            and is_rise(Grade(previous["grade"]), grading.grade)
        ):
            self._escalated(
                case_id=self.case_id,
                assessment_id=assessment_id,
                previous_assessment_id=previous["assessment_id"],
                from_grade=previous["grade"],
                to_grade=str(grading.grade),
                meta=meta,
            )

    # -- events ----------------------------------------------------------------------------

    @event("RiskAssessed")
    def _assessed(
        self,
        *,
        case_id: str,
        assessment_id: str,
        request_hash: str,
        checklist: str,
        answers: list[dict[str, Any]],
        grade: str,
        triggers: list[str],
        yes_count: int,
        source: str,
        assessed_by: str,
        completed_at: datetime,
        recorded_at: datetime,
        safe_to_talk: bool,
        professional_judgement_high: bool,
        professional_judgement_reason: str,
        police_callouts_12_months: int,
        officer_grade: str | None,
        police_grade: str | None,
        satisfies_deadline: bool,
        deadline: dict[str, str] | None,
        on_time: bool,
        meta: dict[str, Any],
    ) -> None:
        self.assessments.append(
            {
                "assessment_id": assessment_id,
                "request_hash": request_hash,
                "checklist": checklist,
                "grade": grade,
                "triggers": list(triggers),
                "yes_count": yes_count,
                "source": source,
                "assessed_by": assessed_by,
                "completed_at": completed_at,
                "recorded_at": recorded_at,
                "professional_judgement_high": professional_judgement_high,
                "police_callouts_12_months": police_callouts_12_months,
                "satisfies_deadline": satisfies_deadline,
                "on_time": on_time,
                "escalated": False,
            }
        )
        if satisfies_deadline:
            self.assessment_due = False
            self.deadline_outcome = {"assessment_id": assessment_id, "source": source, "on_time": on_time}

    @event("RiskEscalated")
    def _escalated(
        self,
        *,
        case_id: str,
        assessment_id: str,
        previous_assessment_id: str,
        from_grade: str,
        to_grade: str,
        meta: dict[str, Any],
    ) -> None:
        assessment = self.find(assessment_id)
        assert assessment is not None
        assessment["escalated"] = True
