"""Composition root for the repairs process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from repairs.application import RepairsApplication
from repairs.entrypoints import grpc_api
from repairs.translation import publishes, to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = RepairsApplication(settings)
    return ServiceParts.of(app, to_contract, grpc_api, policy=app.policy, publishes=publishes)


def main() -> None:
    run_service("repairs", build)
