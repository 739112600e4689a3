"""Composition root for the risk process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from risk.application import RiskApplication
from risk.entrypoints import grpc_api
from risk.translation import publishes, to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = RiskApplication(settings)
    return ServiceParts.of(app, to_contract, grpc_api, policy=app.policy, publishes=publishes)


def main() -> None:
    run_service("risk", build)
