"""Composition root for the reporting process. No I/O at import."""

from __future__ import annotations

from functools import partial

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from reporting.application import ReportingApplication
from reporting.entrypoints import grpc_api
from reporting.sla_watch import SlaWatch
from reporting.translation import publishes, to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = ReportingApplication(settings)
    translate = partial(to_contract, area_of=app.sla.area_of)
    watch = SlaWatch(app.sla, app.recorder, mapper=app.mapper)  # records breaches as due instants pass (ADR 0016)
    background = {"sla-watch": watch.run, "timeline-fill": app.timeline_fill.run}
    parts = ServiceParts.of(app, translate, grpc_api, policy=app.policy, background=background, publishes=publishes)
    parts.reads_audit = True  # the access logs (ADR 0021)
    return parts


def main() -> None:
    run_service("reporting", build)
