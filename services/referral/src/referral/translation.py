"""Referral's domain events → contract messages on `referral.events.v1`."""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent
from casework.referral.v1 import events_pb2, referral_pb2
from referral.domain.referral import Referral


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if isinstance(domain_event, Referral.ReferralRequired):
        payload = events_pb2.ReferralRequired(
            referral_id=str(domain_event.originator_id),
            case_id=domain_event.case_id,
            type=referral_pb2.ReferralType.Value(domain_event.referral_type),
            target_agency=domain_event.target_agency,
            reason=domain_event.reason,
            deadline=deadline_message(domain_event.deadline),
        )
        return OutgoingEvent(domain_event.case_id, payload, occurred_at=domain_event.timestamp)
    return None
