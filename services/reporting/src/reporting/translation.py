"""Reporting's own events are internal for now (timelines are read models); SLA events
(`SlaBreached`, `SlaMet`) will be published on `reporting.events.v1`."""

from __future__ import annotations

from typing import Any

from caseplatform.envelope import OutgoingEvent


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    return None
