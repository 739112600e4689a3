"""Composition root for the intake process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from intake.application import IntakeApplication
from intake.dacc import grpc_api as dacc_grpc_api
from intake.dacc.desk import DaccDesk
from intake.dacc.register import load_tenancy_register
from intake.entrypoints import grpc_api
from intake.translation import publishes, to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = IntakeApplication(settings)
    parts = ServiceParts.of(app, to_contract, grpc_api, policy=app.policy, publishes=publishes)
    parts.owner_of = app.owner_of  # intake knows its cases' owners; other services learn them (ADR 0021)
    # police.v1.DaccFeed: intake owns DACC incidents, so it is served by this process (ADR 0015).
    parts.grpc_register = [*parts.grpc_register, dacc_grpc_api.register(DaccDesk(app, load_tenancy_register()))]
    parts.grpc_service_names = [*parts.grpc_service_names, *dacc_grpc_api.SERVICE_NAMES]
    return parts


def main() -> None:
    run_service("intake", build)
