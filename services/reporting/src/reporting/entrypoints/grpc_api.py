"""reporting.v1.ReportingService."""

from __future__ import annotations

from casework.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from reporting.application import ReportingApplication
from reporting.entrypoints.access_rpcs import AccessRpcs
from reporting.entrypoints.sla_grpc import SlaRpcs
from reporting.entrypoints.timeline_rpcs import DatasetRpcs, TimelineRpcs


class ReportingServicer(
    SlaRpcs, TimelineRpcs, DatasetRpcs, AccessRpcs, reporting_pb2_grpc.ReportingServiceServicer
):
    def __init__(self, app: ReportingApplication) -> None:
        self._app = app
        self._sla = app.sla  # ListSlaBreaches, GetSlaStatus (ADR 0016)


def register(app: ReportingApplication):
    servicer = ReportingServicer(app)
    return lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name]
