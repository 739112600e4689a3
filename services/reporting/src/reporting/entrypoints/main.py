"""Composition root for the reporting process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from reporting.application import ReportingApplication
from reporting.entrypoints import grpc_api
from reporting.translation import to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = ReportingApplication(settings)
    return ServiceParts.of(app, to_contract, grpc_api, policy=app.policy)


def main() -> None:
    run_service("reporting", build)
