"""Risk's domain events → contract messages on `risk.events.v1`. The only place both meet.

Published: grades, MARAC criteria, counts, sources and times. Not published: the checklist
answers, the professional judgement's reason, who assessed (all stay in risk's store).
"""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.risk.v1 import events_pb2, risk_pb2
from risk.domain.assessment import RiskAssessment


def grade_value(grade: str) -> int:
    return risk_pb2.Grade.Value(grade)


def trigger_values(triggers: list[str]) -> list[int]:
    return [risk_pb2.Trigger.Value(t.upper()) for t in triggers]


PUBLISHED = (RiskAssessment.AssessmentRequired, RiskAssessment.RiskAssessed, RiskAssessment.RiskEscalated)


def publishes(event_class: type) -> bool:
    """The relay decodes no other notification (`to_contract` is None for anything else)."""
    return issubclass(event_class, PUBLISHED)


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if not isinstance(domain_event, PUBLISHED):
        return None
    if isinstance(domain_event, RiskAssessment.AssessmentRequired):
        payload = events_pb2.AssessmentRequired(
            case_id=domain_event.case_id, deadline=deadline_message(domain_event.deadline)
        )
        return OutgoingEvent(domain_event.case_id, payload, occurred_at=domain_event.timestamp)
    if isinstance(domain_event, RiskAssessment.RiskAssessed):
        return _assessed(domain_event)
    if isinstance(domain_event, RiskAssessment.RiskEscalated):
        case_id = _case_id(domain_event)
        payload = events_pb2.RiskEscalated(
            case_id=case_id,
            from_grade=grade_value(domain_event.from_grade),
            to_grade=grade_value(domain_event.to_grade),
            assessment_id=domain_event.assessment_id,
            previous_assessment_id=domain_event.previous_assessment_id,
        )
        return OutgoingEvent(case_id, payload, occurred_at=domain_event.timestamp)
    return None


def _assessed(e: Any) -> OutgoingEvent:
    case_id = _case_id(e)
    payload = events_pb2.RiskAssessed(
        case_id=case_id,
        assessment_id=e.assessment_id,
        grade=grade_value(e.grade),
        triggers=trigger_values(e.triggers),
        yes_count=e.yes_count,
        source=risk_pb2.Source.Value(e.source),
        checklist=risk_pb2.Checklist.Value(e.checklist),
        completed_at=to_timestamp(e.completed_at),
        satisfies_deadline=e.satisfies_deadline,
        on_time=e.on_time,
    )
    if e.satisfies_deadline:
        payload.deadline.CopyFrom(deadline_message(e.deadline))
    # It happened when the assessment was completed; recorded_at (the envelope's) is when we knew.
    return OutgoingEvent(case_id, payload, occurred_at=e.completed_at)


def _case_id(domain_event: Any) -> str:
    return str(domain_event.case_id)
