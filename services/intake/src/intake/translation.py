"""Intake's domain events → contract messages on `intake.events.v1`. The only place both meet."""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.intake.v1 import events_pb2, intake_pb2
from intake.domain.case import Case, postcode_district


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if isinstance(domain_event, Case.DisclosureReceived):
        case_id = str(domain_event.originator_id)
        payload = events_pb2.DisclosureReceived(
            case_id=case_id,
            channel=intake_pb2.Channel.Value(domain_event.channel),
            received_at=to_timestamp(domain_event.received_at),
            tenant_ref=domain_event.victim.get("tenant_ref", ""),
            postcode_district=postcode_district(domain_event.victim["address"]["postcode"]),
            children_ages=domain_event.children_ages,
            deadlines=[deadline_message(d) for d in domain_event.deadlines],
        )
        return OutgoingEvent(case_id=case_id, payload=payload, occurred_at=domain_event.received_at)
    return None
