"""risk.v1.RiskService."""

from __future__ import annotations

import asyncio

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import to_timestamp
from caseplatform.ids import parse_uuid
from casework.risk.v1 import risk_pb2, risk_pb2_grpc
from risk.application import RiskApplication


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, app: RiskApplication) -> None:
        self._app = app

    async def GetRiskHistory(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        record = await asyncio.to_thread(self._app.risk_record, case_id)
        return risk_pb2.GetRiskHistoryResponse(
            case_id=record.case_id,
            assessment_due=record.assessment_due,
            deadline=deadline_message(record.deadline),
            opened_at=to_timestamp(record.created_on),
        )


def register(app: RiskApplication):
    servicer = RiskServicer(app)
    return lambda server: risk_pb2_grpc.add_RiskServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name]
