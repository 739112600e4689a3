"""intake.v1.IntakeService: proto → command → application → proto."""

from __future__ import annotations

import asyncio

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import to_timestamp
from caseplatform.grpc_server import require_actor
from caseplatform.ids import parse_uuid
from caseplatform.validation import parse_command, proto_to_dict
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from intake.application import IntakeApplication
from intake.commands import SubmitDisclosure
from intake.domain.case import Case


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, app: IntakeApplication) -> None:
        self._app = app

    async def SubmitDisclosure(self, request, context):
        command = parse_command(SubmitDisclosure, proto_to_dict(request))
        submitted = await asyncio.to_thread(self._app.submit_disclosure, command, require_actor())
        return intake_pb2.SubmitDisclosureResponse(
            case_id=submitted.case.case_id,
            created=submitted.created,
            deadlines=[deadline_message(d) for d in submitted.case.deadlines],
        )

    async def GetCase(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        case = await asyncio.to_thread(self._app.get_case, case_id)
        return case_response(case)


def case_response(case: Case) -> intake_pb2.GetCaseResponse:
    return intake_pb2.GetCaseResponse(
        case_id=case.case_id,
        channel=intake_pb2.Channel.Value(case.channel),
        received_at=to_timestamp(case.received_at),
        recorded_at=to_timestamp(case.recorded_at),
        tenant_ref=case.victim.get("tenant_ref", ""),
        postcode_district=case.postcode_district,
        children_count=len(case.children_ages),
        deadlines=[deadline_message(d) for d in case.deadlines],
        status=case.status,
    )


def register(app: IntakeApplication):
    servicer = IntakeServicer(app)
    return lambda server: intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]
