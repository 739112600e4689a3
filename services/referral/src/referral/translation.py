"""Referral's domain events → contract messages on `referral.events.v1`.

Published: ids, types, target agencies, gate states, reason codes, lawful-basis codes, times,
deadlines and the MARAC form (codes and flags). Not published: free-text reasons (for a referral's
decline, an override, a rehousing decision, an outcome note) and the deciding officer's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.common.v1 import envelope_pb2
from casework.referral.v1 import events_pb2, referral_pb2
from referral.domain.referral import Referral


def deadline_msg(d: dict[str, str]) -> envelope_pb2.Deadline:
    message = deadline_message(d)
    message.clock_id = d.get("clock_id", "")
    return message


def clocks(e: Any, d: dict[str, str] | None) -> list[tuple[str, str]]:
    """(kind, clock_id) of every clock this referral owes: its own, and the case-level clock
    intake started for the children's referral (which the MARF meets too)."""
    found = [(d["kind"], d.get("clock_id", ""))] if d else []
    kind = _case_kind(e)
    if kind and kind not in [k for k, c in found if not c]:
        found.append((kind, ""))
    return found


def _case_kind(e: Any) -> str:
    return "CHILDRENS_REFERRAL" if e.referral_type == "CHILDRENS_MARF" else ""


def met(e: Any, d: dict[str, str] | None, at: datetime) -> list[envelope_pb2.DeadlineMet]:
    return [
        envelope_pb2.DeadlineMet(
            kind=kind, clock_id=clock, met_at=to_timestamp(at),
            on_time=d is None or at <= datetime.fromisoformat(d["due_at"]),
        )
        for kind, clock in clocks(e, d)
    ]


def withdrawn(e: Any, d: dict[str, str] | None, code: str) -> list[envelope_pb2.DeadlineWithdrawn]:
    return [envelope_pb2.DeadlineWithdrawn(kind=k, clock_id=c, reason_code=code) for k, c in clocks(e, d)]


def _type(e: Any) -> int:
    return referral_pb2.ReferralType.Value(e.referral_type)


def gate_value(gate: str) -> int:
    return referral_pb2.ConsentGate.Value("HELD" if gate == "PENDING" else gate)


def marac_message(form: dict[str, Any]) -> referral_pb2.MaracReferralForm:
    return referral_pb2.MaracReferralForm(
        **{k: v for k, v in form.items() if k != "diversity"},
        diversity=referral_pb2.Diversity(**form.get("diversity", {})),
    )


def _required(e: Any) -> Any:
    payload = events_pb2.ReferralRequired(
        referral_id=str(e.originator_id), case_id=e.case_id, type=_type(e),
        target_agency=e.target_agency, reason=e.reason,
    )
    if e.deadline:
        payload.deadline.CopyFrom(deadline_msg(e.deadline))
    return payload


def _sent(e: Any) -> Any:
    payload = events_pb2.ReferralSent(
        referral_id=str(e.originator_id), case_id=e.case_id, type=_type(e), target_agency=e.target_agency,
        sent_at=to_timestamp(e.at), deadlines_met=met(e, e.deadline, e.at), consent=gate_value(e.gate),
        required_at=to_timestamp(e.required_at),
    )
    if e.lawful_basis:
        payload.lawful_basis = referral_pb2.LawfulBasis.Value(e.lawful_basis)
    if e.form:
        payload.marac.CopyFrom(marac_message(e.form))
    return payload


def _common(e: Any) -> dict[str, Any]:
    return {"referral_id": str(e.originator_id), "case_id": e.case_id, "type": _type(e)}


def _with_deadline(message: Any, e: Any, **fields: Any) -> Any:
    payload = message(**_common(e), **fields)
    if getattr(e, "deadline", None):
        payload.deadline.CopyFrom(deadline_msg(e.deadline))
    return payload


TRANSLATIONS: dict[type, Any] = {
    Referral.ReferralRequired: _required,
    Referral.ReferralSent: _sent,
    Referral.ReferralOffered: lambda e: events_pb2.ReferralOffered(**_common(e), target_agency=e.target_agency),
    Referral.ReferralAccepted: lambda e: _with_deadline(
        events_pb2.ReferralAccepted, e, accepted_at=to_timestamp(e.at)
    ),
    Referral.ReferralDeclined: lambda e: events_pb2.ReferralDeclined(
        **_common(e), declined_at=to_timestamp(e.at), deadlines_withdrawn=withdrawn(e, e.withdrawn, "DECLINED"),
    ),
    Referral.ReferralHeld: lambda e: events_pb2.ReferralHeld(
        **_common(e), target_agency=e.target_agency, reason_code=e.reason_code
    ),
    Referral.ReferralConsentCleared: lambda e: _with_deadline(
        events_pb2.ReferralConsentCleared, e, target_agency=e.target_agency
    ),
    Referral.ConsentOverridden: lambda e: _with_deadline(
        events_pb2.ConsentOverridden, e, target_agency=e.target_agency,
        lawful_basis=referral_pb2.LawfulBasis.Value(e.lawful_basis), grounds=e.grounds,
        officer_role=e.officer_role, decided_by=e.meta.get("actor", {}).get("user", ""),
    ),
    Referral.ReferralWithdrawn: lambda e: events_pb2.ReferralWithdrawn(
        **_common(e), reason_code=e.reason_code, deadlines_withdrawn=withdrawn(e, e.withdrawn, e.reason_code),
    ),
    Referral.ConsentWithdrawnAfterSending: lambda e: events_pb2.ConsentWithdrawnAfterSending(
        **_common(e), target_agency=e.target_agency
    ),
    Referral.ReferralAcknowledged: lambda e: events_pb2.ReferralAcknowledged(
        **_common(e), target_agency=e.target_agency, acknowledged_at=to_timestamp(e.at)
    ),
    Referral.ReferralOutcomeRecorded: lambda e: events_pb2.ReferralOutcomeRecorded(
        **_common(e), target_agency=e.target_agency, outcome=referral_pb2.Outcome.Value(e.outcome),
        required_at=to_timestamp(e.required_at), sent_at=to_timestamp(e.sent_at) if e.sent_at else None,
    ),
    Referral.RehousingDecisionRecorded: lambda e: events_pb2.RehousingDecisionRecorded(
        referral_id=str(e.originator_id), case_id=e.case_id, route=referral_pb2.RehousingRoute.Value(e.route),
        approved=e.approved, high_priority=e.high_priority, decided_by_role=e.decided_by_role,
    ),
    Referral.CsoInformed: lambda e: events_pb2.CsoInformed(
        referral_id=str(e.originator_id), case_id=e.case_id, area=e.area
    ),
}


def publishes(event_class: type) -> bool:
    """The relay decodes no other notification (`to_contract` is None for anything else)."""
    return event_class in TRANSLATIONS


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    """The case file and MARAC history stay inside referral."""
    translate = TRANSLATIONS.get(type(domain_event))
    if translate is None:
        return None
    return OutgoingEvent(domain_event.case_id, translate(domain_event), occurred_at=domain_event.timestamp)
