"""Intake's domain events → contract messages on `intake.events.v1`. The only place both meet.

Names, addresses, dates of birth, safe-contact details and notes are never published.
"""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.intake.v1 import events_pb2, intake_pb2
from intake.dacc.translation import DACC_TRANSLATIONS
from intake.domain.case import Case
from intake.domain.patches import victim_district


def _disclosure(e: Any) -> OutgoingEvent:
    case_id = str(e.originator_id)
    details = getattr(e, "details", None) or {}
    owner = getattr(e, "owner", None) or {}
    safe_home = details.get("safe_to_return_home")
    payload = events_pb2.DisclosureReceived(
        case_id=case_id,
        channel=intake_pb2.Channel.Value(e.channel),
        received_at=to_timestamp(e.received_at),
        tenant_ref=e.victim.get("tenant_ref", ""),
        postcode_district=victim_district(e.victim),
        children_ages=e.children_ages,
        deadlines=[deadline_message(d) for d in e.deadlines],
        owner_cho=owner.get("cho", ""),
        area=owner.get("area", ""),
        perpetrator_lives_with_victim=bool(details.get("perpetrator", {}).get("lives_with_victim")),
        safe_to_return_home_known=safe_home is not None,
        safe_to_return_home=bool(safe_home),
        reporter_suspected_perpetrator=bool(details.get("reporter_suspected_perpetrator")),
        police_involved=bool(details.get("police_log_number")),
    )
    return OutgoingEvent(case_id=case_id, payload=payload, occurred_at=e.received_at)


def _simple(message: Any, occurred: str = "timestamp", **fields: Any) -> Any:
    """A translator: `fields` map payload field → getter on the domain event; `occurred` names
    the event attribute that says when it happened in the world (default: when recorded)."""

    def translate(e: Any) -> OutgoingEvent:
        case_id = str(e.originator_id)
        values = {name: getter(e) for name, getter in fields.items()}
        return OutgoingEvent(case_id, message(case_id=case_id, **values), occurred_at=getattr(e, occurred))

    return translate


TRANSLATIONS = {
    Case.DisclosureReceived: _disclosure,
    Case.FurtherDisclosureReceived: _simple(
        events_pb2.FurtherDisclosureReceived, occurred="received_at",
        channel=lambda e: intake_pb2.Channel.Value(e.channel),
        received_at=lambda e: to_timestamp(e.received_at), children_ages=lambda e: e.children_ages,
    ),
    Case.SafeContactRecorded: _simple(
        events_pb2.SafeContactRecorded, occurred="at",
        outcome=lambda e: intake_pb2.SafeContactOutcome.Value(e.outcome),
        at=lambda e: to_timestamp(e.at), deadline_met=lambda e: e.deadline_met,
    ),
    Case.ConsentRecorded: _simple(
        events_pb2.ConsentRecorded, occurred="at",
        decision=lambda e: intake_pb2.ConsentDecision.Value(e.decision),
        agencies=lambda e: e.agencies, at=lambda e: to_timestamp(e.at),
    ),
    Case.ImmediateSafetyRecorded: _simple(
        events_pb2.ImmediateSafetyRecorded, safe_to_return_home=lambda e: e.safe_to_return_home
    ),
    Case.ReportedElsewhereRecorded: _simple(
        events_pb2.ReportedElsewhereRecorded,
        police_involved=lambda e: bool(e.police_log_number),
        support_worker_involved=lambda e: bool(e.support_worker),
        consent_to_speak_to_them=lambda e: e.consent_to_speak,
    ),
    Case.LegalAdviceRequested: _simple(events_pb2.LegalAdviceRequested),
    Case.PossiblePerpetratorAsVictimFlagged: _simple(events_pb2.PossiblePerpetratorAsVictimFlagged),
    Case.DetailsCorrected: _simple(
        events_pb2.DetailsCorrected, postcode_district=lambda e: victim_district(e.victim)
    ),
    Case.OwnerReassigned: _simple(
        events_pb2.OwnerReassigned,
        owner_cho=lambda e: e.owner["cho"], area=lambda e: e.owner["area"],
        previous_owner_cho=lambda e: e.previous_owner.get("cho", ""),
    ),
    Case.CaseClosed: _simple(events_pb2.CaseClosed, reason=lambda e: e.reason),
    Case.CaseReopened: _simple(events_pb2.CaseReopened, reason=lambda e: e.reason),
    # Who and when travel in the envelope; the reason stays in intake (ADR 0022).
    Case.SubjectErased: _simple(
        events_pb2.SubjectErased, occurred="erased_at",
        subject=lambda e: intake_pb2.DataSubject.Value(e.subject), erased_at=lambda e: to_timestamp(e.erased_at),
    ),
    **DACC_TRANSLATIONS,
}


# Inputs to the referral pathways (issue #4): codes and flags only. Safe times, who the victim
# fears, who is safe to talk to, the rehousing reason and safeguarding details stay in intake.
TRANSLATIONS.update({
    Case.RehousingRequested: _simple(
        events_pb2.RehousingRequested, route=lambda e: intake_pb2.RehousingRoute.Value(e.route)
    ),
    Case.PerpetratorWillingnessRecorded: _simple(events_pb2.PerpetratorWillingnessRecorded, willing=lambda e: e.willing),
    Case.SafeguardingConcernRecorded: _simple(
        events_pb2.SafeguardingConcernRecorded, kind=lambda e: intake_pb2.SafeguardingConcern.Value(e.kind)
    ),
    Case.MaracReferralDetailsRecorded: _simple(
        events_pb2.MaracReferralDetailsRecorded,
        safe_to_call=lambda e: e.form["safe_to_call"],
        safe_times_recorded=lambda e: bool(e.form["safe_times"]),
        diversity=lambda e: intake_pb2.Diversity(**e.form["diversity"]),
        perpetrator_relationship=lambda e: e.form["perpetrator_relationship"],
        victim_aware=lambda e: e.form["victim_aware"],
        victim_unaware_reason=lambda e: e.form["victim_unaware_reason"],
        who_victim_fears_recorded=lambda e: bool(e.form["who_victim_fears"]),
        safe_to_talk_to_recorded=lambda e: bool(e.form["safe_to_talk_to"]),
    ),
})


def publishes(event_class: type) -> bool:
    """The relay decodes no other notification (`to_contract` is None for anything else)."""
    return event_class in TRANSLATIONS


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    """Notes, the victim index and linked-disclosure records stay inside intake."""
    translate = TRANSLATIONS.get(type(domain_event))
    return translate(domain_event) if translate else None
