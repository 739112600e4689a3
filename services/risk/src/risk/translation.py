"""Risk's domain events → contract messages on `risk.events.v1`."""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent
from casework.risk.v1 import events_pb2
from risk.domain.assessment import RiskAssessment


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if isinstance(domain_event, RiskAssessment.AssessmentRequired):
        payload = events_pb2.AssessmentRequired(
            case_id=domain_event.case_id, deadline=deadline_message(domain_event.deadline)
        )
        return OutgoingEvent(domain_event.case_id, payload, occurred_at=domain_event.timestamp)
    return None
