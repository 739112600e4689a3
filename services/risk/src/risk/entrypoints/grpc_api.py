"""risk.v1.RiskService: proto → command → application → proto."""

from __future__ import annotations

import asyncio
from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import to_timestamp
from caseplatform.identity import require_actor
from caseplatform.ids import parse_uuid
from caseplatform.validation import proto_to_dict
from casework.risk.v1 import risk_pb2, risk_pb2_grpc
from risk.application import RiskApplication
from risk.commands import parse_record_dash_assessment
from risk.domain.assessment import RiskAssessment
from risk.translation import grade_value, trigger_values


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, app: RiskApplication) -> None:
        self._app = app

    async def RecordDashAssessment(self, request, context):
        command = parse_record_dash_assessment(proto_to_dict(request))
        recorded = await asyncio.to_thread(self._app.record_dash_assessment, command, require_actor())
        a = recorded.assessment
        return risk_pb2.RecordDashAssessmentResponse(
            assessment_id=a["assessment_id"],
            grade=grade_value(a["grade"]),
            triggers=trigger_values(a["triggers"]),
            yes_count=a["yes_count"],
            escalated=a["escalated"],
            created=recorded.created,
        )

    async def GetRiskHistory(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        record = await asyncio.to_thread(self._app.risk_record, case_id)
        return history_response(record)


def history_response(record: RiskAssessment) -> risk_pb2.GetRiskHistoryResponse:
    response = risk_pb2.GetRiskHistoryResponse(
        case_id=record.case_id,
        assessment_due=record.assessment_due,
        deadline=deadline_message(record.deadline),
        opened_at=to_timestamp(record.created_on),
        assessments=[_assessment(a) for a in record.history()],
    )
    if record.current_grade is not None:
        response.current_grade = grade_value(record.current_grade)
    outcome = record.deadline_outcome
    if outcome is not None:
        response.deadline_outcome.CopyFrom(
            risk_pb2.DeadlineOutcome(
                assessment_id=outcome["assessment_id"],
                source=risk_pb2.Source.Value(outcome["source"]),
                on_time=outcome["on_time"],
            )
        )
    return response


def _assessment(a: dict[str, Any]) -> risk_pb2.AssessmentRecord:
    return risk_pb2.AssessmentRecord(
        assessment_id=a["assessment_id"],
        checklist=risk_pb2.Checklist.Value(a["checklist"]),
        grade=grade_value(a["grade"]),
        triggers=trigger_values(a["triggers"]),
        yes_count=a["yes_count"],
        source=risk_pb2.Source.Value(a["source"]),
        assessed_by=a["assessed_by"],
        completed_at=to_timestamp(a["completed_at"]),
        recorded_at=to_timestamp(a["recorded_at"]),
        escalated=a["escalated"],
        satisfies_deadline=a["satisfies_deadline"],
        on_time=a["on_time"],
    )


def register(app: RiskApplication):
    servicer = RiskServicer(app)
    return lambda server: risk_pb2_grpc.add_RiskServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name]
