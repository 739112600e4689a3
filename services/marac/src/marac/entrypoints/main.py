"""Composition root for the marac process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from marac.application import MaracApplication
from marac.entrypoints import grpc_api
from marac.translation import publishes, to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = MaracApplication(settings)
    return ServiceParts.of(app, to_contract, grpc_api, policy=app.policy, publishes=publishes)


def main() -> None:
    run_service("marac", build)
