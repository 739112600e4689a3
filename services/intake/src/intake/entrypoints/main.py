"""Composition root for the intake process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from intake.application import IntakeApplication
from intake.entrypoints import grpc_api
from intake.translation import to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = IntakeApplication(settings)
    return ServiceParts.of(app, to_contract, grpc_api, policy=app.policy)


def main() -> None:
    run_service("intake", build)
