"""Composition root for the referral process. No I/O at import."""

from __future__ import annotations

from caseplatform.runner import ServiceParts, run_service
from caseplatform.settings import PlatformSettings
from referral.application import ReferralApplication
from referral.entrypoints import grpc_api
from referral.translation import publishes, to_contract


def build(settings: PlatformSettings) -> ServiceParts:
    app = ReferralApplication(settings)
    return ServiceParts.of(app, to_contract, grpc_api, policy=app.policy, publishes=publishes)


def main() -> None:
    run_service("referral", build)
