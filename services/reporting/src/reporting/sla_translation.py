"""Reporting's SLA outcomes as contract messages on `reporting.events.v1` (ADR 0016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.reporting.v1 import events_pb2
from reporting.domain.sla import SlaClock

PUBLISHED = (SlaClock.Breached, SlaClock.Met)


def publishes(event_class: type) -> bool:
    """The relay decodes no other notification of reporting's (the SLA bookkeeping, the access
    logs: most of its log); `sla_to_contract` is None for anything else."""
    return issubclass(event_class, PUBLISHED)


def sla_to_contract(domain_event: Any, area_of: Callable[[str], str] = lambda case_id: "") -> OutgoingEvent | None:
    """`area_of(case_id)`: the case's area as reporting knows it when publishing."""
    if not isinstance(domain_event, PUBLISHED):
        return None
    if isinstance(domain_event, SlaClock.Breached):
        c = domain_event.clock
        payload = events_pb2.SlaBreached(
            **_common(c, area_of), due_date=c["due_date"], breached_at=to_timestamp(domain_event.breached_at)
        )
        return OutgoingEvent(c["case_id"], payload, occurred_at=domain_event.breached_at)
    if isinstance(domain_event, SlaClock.Met):
        e = domain_event
        payload = events_pb2.SlaMet(
            **_common(e.clock, area_of), met_at=to_timestamp(e.met_at), on_time=e.on_time, met_by_service=e.met_by
        )
        return OutgoingEvent(e.clock["case_id"], payload, occurred_at=e.met_at)
    return None


def _common(clock: dict[str, Any], area_of: Callable[[str], str]) -> dict[str, Any]:
    return {
        "clock_id": clock["clock_id"],
        "case_id": clock["case_id"],
        "kind": clock["kind"],
        "service": clock["service"],
        # Outcomes carry the case's area as known when recorded; older ones have it looked up.
        "area": clock.get("area") or area_of(clock["case_id"]),
        "started_at": to_timestamp(clock["started_at"]),
        "due_at": to_timestamp(clock["due_at"]),
    }
