"""The services, their topics and their default ports: one place, so nothing drifts."""

from __future__ import annotations

from dataclasses import dataclass

SERVICES: tuple[str, ...] = ("intake", "risk", "referral", "marac", "repairs", "reporting")


def topic_for(service: str) -> str:
    """Each service publishes its domain events on one topic, versioned with its contracts."""
    return f"{service}.events.v1"


def dead_letter_topic_for(service: str) -> str:
    """Where a consuming service parks messages it cannot read, with the reason."""
    return f"{service}.deadletter.v1"


@dataclass(frozen=True)
class ServiceDefaults:
    name: str
    grpc_port: int
    metrics_port: int


DEFAULTS: dict[str, ServiceDefaults] = {
    name: ServiceDefaults(name, 50051 + i, 9101 + i) for i, name in enumerate(SERVICES)
}

# Which topics each service consumes (ARCHITECTURE.md "Shape"); reporting reads them all.
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "intake": ("risk", "repairs", "marac"),  # grades; work orders (DACC briefing); the landlord's MARAC actions
    "risk": ("intake",),
    "referral": ("intake", "risk", "marac"),  # a MARAC action to rehouse becomes a rehousing referral
    "marac": ("referral", "intake"),
    "repairs": ("intake", "marac"),
    "reporting": SERVICES,
}
