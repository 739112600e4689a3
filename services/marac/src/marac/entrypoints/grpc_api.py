"""marac.v1.MaracService."""

from __future__ import annotations

import asyncio

from caseplatform.envelope import to_timestamp
from caseplatform.ids import parse_uuid
from casework.marac.v1 import marac_pb2, marac_pb2_grpc
from marac.application import MaracApplication


class MaracServicer(marac_pb2_grpc.MaracServiceServicer):
    def __init__(self, app: MaracApplication) -> None:
        self._app = app

    async def GetCaseFile(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        case_file = await asyncio.to_thread(self._app.case_file, case_id)
        return marac_pb2.GetCaseFileResponse(
            case_id=case_file.case_id,
            postcode_district=case_file.postcode_district,
            opened_at=to_timestamp(case_file.created_on),
            children_count=case_file.children_count,
        )


def register(app: MaracApplication):
    servicer = MaracServicer(app)
    return lambda server: marac_pb2_grpc.add_MaracServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [marac_pb2.DESCRIPTOR.services_by_name["MaracService"].full_name]
