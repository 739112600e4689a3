"""Composition root for the reporting process. No I/O at import."""

from __future__ import annotations

from functools import partial

import grpc

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from reporting.application import ReportingApplication
from reporting.entrypoints import grpc_api
from reporting.entrypoints.sla_grpc import SlaRpcs
from reporting.sla_watch import SlaWatch
from reporting.translation import to_contract


class _Servicer(SlaRpcs, grpc_api.ReportingServicer):
    def __init__(self, app: ReportingApplication) -> None:
        super().__init__(app)
        self._sla = app.sla


def build(settings: PlatformSettings) -> ServiceParts:
    app = ReportingApplication(settings)
    translate = partial(to_contract, area_of=app.sla.area_of)
    watch = SlaWatch(app.sla, app.recorder)  # breaches recorded as due instants pass (ADR 0016)

    def register(server: grpc.aio.Server) -> None:
        grpc_api.reporting_pb2_grpc.add_ReportingServiceServicer_to_server(_Servicer(app), server)

    return ServiceParts(
        app, translate, app.policy, [register], grpc_api.SERVICE_NAMES, background={"sla-watch": watch.run}
    )


def main() -> None:
    run_service("reporting", build)
