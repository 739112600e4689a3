"""repairs.v1.RepairsService."""

from __future__ import annotations

import asyncio

from caseplatform.envelope import to_timestamp
from caseplatform.ids import parse_uuid
from casework.repairs.v1 import repairs_pb2, repairs_pb2_grpc
from repairs.application import RepairsApplication


class RepairsServicer(repairs_pb2_grpc.RepairsServiceServicer):
    def __init__(self, app: RepairsApplication) -> None:
        self._app = app

    async def GetCaseFile(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        case_file = await asyncio.to_thread(self._app.case_file, case_id)
        return repairs_pb2.GetCaseFileResponse(
            case_id=case_file.case_id,
            postcode_district=case_file.postcode_district,
            opened_at=to_timestamp(case_file.created_on),
            children_count=case_file.children_count,
        )


def register(app: RepairsApplication):
    servicer = RepairsServicer(app)
    return lambda server: repairs_pb2_grpc.add_RepairsServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [repairs_pb2.DESCRIPTOR.services_by_name["RepairsService"].full_name]
