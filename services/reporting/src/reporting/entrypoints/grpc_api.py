"""reporting.v1.ReportingService."""

from __future__ import annotations

import asyncio

from caseplatform.envelope import to_timestamp
from caseplatform.ids import parse_uuid
from casework.common.v1 import envelope_pb2
from casework.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from reporting.application import ReportingApplication
from reporting.entrypoints.sla_grpc import SlaRpcs


class ReportingServicer(SlaRpcs, reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, app: ReportingApplication) -> None:
        self._app = app
        self._sla = app.sla  # ListSlaBreaches, GetSlaStatus (ADR 0016)

    async def GetCaseTimeline(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        timeline = await asyncio.to_thread(self._app.timeline, case_id)
        return reporting_pb2.GetCaseTimelineResponse(
            case_id=timeline.case_id,
            entries=[
                reporting_pb2.TimelineEntry(
                    event_id=e["event_id"],
                    service=e["service"],
                    event_type=e["event_type"],
                    actor=envelope_pb2.Actor(**e["actor"]),
                    occurred_at=to_timestamp(e["occurred_at"]),
                    recorded_at=to_timestamp(e["recorded_at"]),
                    summary=e["summary"],
                )
                for e in timeline.ordered()
            ],
        )


def register(app: ReportingApplication):
    servicer = ReportingServicer(app)
    return lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name]
