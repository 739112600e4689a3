"""Marac domain events → contract messages on `marac.events.v1`."""

from __future__ import annotations

from typing import Any

from caseplatform.envelope import OutgoingEvent
from casework.marac.v1 import events_pb2
from marac.domain.case_file import CaseFile


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if isinstance(domain_event, CaseFile.CaseFileOpened):
        payload = events_pb2.CaseFileOpened(
            case_id=domain_event.case_id, postcode_district=domain_event.postcode_district
        )
        return OutgoingEvent(domain_event.case_id, payload, occurred_at=domain_event.timestamp)
    return None
