"""Reporting's domain events → contract messages on `reporting.events.v1`: the SLA engine's
outcomes (`SlaBreached`, `SlaMet`, ADR 0016). Timelines are read models and are not published."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caseplatform.envelope import OutgoingEvent
from reporting.sla_translation import publishes, sla_to_contract

__all__ = ["publishes", "to_contract"]


def to_contract(domain_event: Any, area_of: Callable[[str], str] = lambda case_id: "") -> OutgoingEvent | None:
    return sla_to_contract(domain_event, area_of)
