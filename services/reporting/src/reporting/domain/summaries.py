"""Plain-language summaries for timeline entries. No personal data: only kinds, counts, dates."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from caseplatform.enums import label

Summariser = Callable[[Any], str]


def _disclosure(p: Any) -> str:
    children = len(p.children_ages)
    household = f"{children} child{'ren' if children != 1 else ''} in the household" if children else "no children recorded"
    return f"Disclosure received ({_words(_enum_name(p, 'channel'))}); {household}; patch {p.postcode_district}"


def _assessment(p: Any) -> str:
    return f"DASH risk assessment due by the end of {p.deadline.due_date}"


def _risk_assessed(p: Any) -> str:
    criteria = ", ".join(_words(_enum_value(p, "triggers", t)) for t in p.triggers)
    police = _enum_name(p, "checklist") == "POLICE_DASH"
    basis = "graded by the police, not re-scored" if police else f"{p.yes_count} \"yes\" answer{'s' if p.yes_count != 1 else ''}"
    text = (
        f"{'Police DASH' if police else 'SafeLives DASH RIC'} risk assessment recorded "
        f"(by {_words(_enum_name(p, 'source'))}): {_enum_name(p, 'grade')} risk; {basis}; "
        f"MARAC criteria: {criteria or 'none'}"
    )
    if p.satisfies_deadline:
        text += f"; assessment deadline met {'on time' if p.on_time else 'late'}"
    return text


def _risk_escalated(p: Any) -> str:
    return f"Risk rose from {_enum_name(p, 'from_grade')} to {_enum_name(p, 'to_grade')}: escalated to the CSO"


def _referral(p: Any) -> str:
    kind = REFERRAL_LABELS.get(_enum_name(p, "type"), _words(_enum_name(p, "type")))
    due = f", due by the end of {p.deadline.due_date}" if p.HasField("deadline") else ""
    return f"Referral required: {kind} to {p.target_agency}{due} ({p.reason})"


REFERRAL_LABELS = {
    "CHILDRENS_MARF": "Multi-Agency Referral Form (children)",
    "MARAC": "MARAC referral",
    "SPECIALIST_SUPPORT": "specialist support",
    "HOUSING_OPTIONS": "Housing Options",
}


def _case_file(service: str) -> Summariser:
    return lambda p: f"{service} opened its case file (patch {p.postcode_district})"


def _further(p: Any) -> str:
    return f"Further disclosure received ({_words(_enum_name(p, 'channel'))}), added to the open case"


def _safe_contact(p: Any) -> str:
    outcome = {"ATTEMPTED": "Safe contact attempted, not made", "MADE": "Safe contact made",
               "UNSAFE_TO_CONTACT": "Not safe to contact the victim now"}.get(_enum_name(p, "outcome"))
    if outcome is None:
        outcome = f"Safe contact recorded ({_enum_name(p, 'outcome')})"
    if _enum_name(p, "outcome") == "MADE":
        outcome += " (within the deadline)" if p.deadline_met else " (after the deadline)"
    return outcome


def _consent(p: Any) -> str:
    return f"Consent {_words(_enum_name(p, 'decision'))} for: {', '.join(p.agencies)}"


def _reassigned(p: Any) -> str:
    return f"Case reassigned to {p.owner_cho} ({p.area}) from {p.previous_owner_cho or 'no owner'}"


def _work_order_raised(p: Any) -> str:
    measures = ", ".join(_words(_enum_value(p, "measures", m)) for m in p.measures)
    return (
        f"{_enum_name(p, 'priority').capitalize()} work order raised ({_words(_enum_name(p, 'source'))}): "
        f"{measures}; due by {p.deadline.due_date}"
    )


def _action_kind(p: Any) -> str:
    return _words(_enum_name(p, "kind"))


def _action_agreed(p: Any) -> str:
    source = "MARAC action" if _enum_name(p, "source") == "MARAC_MEETING" else "Agency request"
    text = f"{source} agreed for {p.owning_agency}: {_action_kind(p)}, due by the end of {p.deadline.due_date}"
    if p.measures:
        text += f" ({', '.join(_words(_enum_value(p, 'measures', m)) for m in p.measures)})"
    return text


def _action_completed(p: Any) -> str:
    met = p.deadlines_met[0].on_time if p.deadlines_met else True
    return f"Action completed by {p.owning_agency}: {_action_kind(p)} ({'on time' if met else 'late'})"


ATTENDANCE = {"PRESENT": "attended", "ABSENT": "was absent from", "DEPUTY": "sent a deputy to"}


def _case_listed(p: Any) -> str:
    criteria = ", ".join(_words(c) for c in p.criteria) or "none recorded"
    return (
        f"MARAC referral listed for the {p.area} MARAC{' (repeat)' if p.repeat else ''}: {p.risk_grade} risk; "
        f"criteria: {criteria}; referred by {p.referring_agency}"
    )


def _dacc_matched(p: Any) -> str:
    consent = "consent to share given" if p.consent_to_share else "shared without consent"
    where = "added to the open case" if p.linked_to_open_case else "case opened"
    return f"Police DACC incident for {p.dacc_date} matched a tenancy ({_enum_name(p, 'police_risk_grade')} police risk; {consent}): {where}"


def _dacc_outcome(p: Any) -> str:
    offered = ", ".join(_words(_enum_value(p, "interventions", i)) for i in p.interventions)
    agencies = len(p.agencies_shared)
    return (
        f"DACC outcome recorded for {p.dacc_date}: {agencies} agenc{'ies' if agencies != 1 else 'y'} shared information; "
        f"offered: {offered or 'no intervention'}"
    )


SUMMARIES: dict[str, Summariser] = {
    "intake.v1.DisclosureReceived": _disclosure,
    "intake.v1.FurtherDisclosureReceived": _further,
    "intake.v1.SafeContactRecorded": _safe_contact,
    "intake.v1.ConsentRecorded": _consent,
    "intake.v1.ImmediateSafetyRecorded": lambda p: "Safe to return home" if p.safe_to_return_home else "Not safe to return home",
    "intake.v1.ReportedElsewhereRecorded": lambda p: "Reported elsewhere recorded"
    + (" (police involved)" if p.police_involved else "")
    + ("; consent to speak to them" if p.consent_to_speak_to_them else ""),
    "intake.v1.LegalAdviceRequested": lambda p: "CSO asked to advise on emergency legal action",
    "intake.v1.PossiblePerpetratorAsVictimFlagged": lambda p: "Flagged: the reporter may be the perpetrator; specialist advice sought",
    "intake.v1.DetailsCorrected": lambda p: "Details corrected (a new record; nothing overwritten)",
    "intake.v1.OwnerReassigned": _reassigned,
    "intake.v1.CaseClosed": lambda p: f"Case closed: {p.reason}",
    "intake.v1.CaseReopened": lambda p: f"Case reopened: {p.reason}",
    "intake.v1.SubjectErased": lambda p: f"Personal data of the {_words(_enum_name(p, 'subject')).lower()} erased "
                                         "(lawful erasure; the case's history and deadlines remain)",
    "intake.v1.DaccIncidentMatched": _dacc_matched,
    "intake.v1.DaccOutcomeRecorded": _dacc_outcome,
    "risk.v1.AssessmentRequired": _assessment,
    "risk.v1.RiskAssessed": _risk_assessed,
    "risk.v1.RiskEscalated": _risk_escalated,
    "referral.v1.ReferralRequired": _referral,
    "referral.v1.ReferralSent": lambda p: (
        f"{REFERRAL_LABELS.get(_enum_name(p, 'type'), _words(_enum_name(p, 'type')))} sent to {p.target_agency}"
    ),
    "marac.v1.CaseFileOpened": _case_file("MARAC"),
    "marac.v1.MeetingScheduled": lambda p: f"{p.area} MARAC meeting scheduled for {p.meeting_date}",
    "marac.v1.CaseListed": _case_listed,
    "marac.v1.AttendanceRecorded": lambda p: (
        f"{p.agency} {ATTENDANCE.get(_enum_name(p, 'status'), 'recorded at')} the {p.area} MARAC"
    ),
    "marac.v1.PersistentAbsence": lambda p: (
        f"{p.agency} absent from {p.absences} of the last {p.of_meetings} {p.area} MARAC meetings: reported"
    ),
    "marac.v1.InformationShared": lambda p: (
        f"{p.agency} shared information at MARAC ({', '.join(_words(_enum_value(p, 'categories', c)) for c in p.categories)})"
    ),
    "marac.v1.ActionAgreed": _action_agreed,
    "marac.v1.ActionCompleted": _action_completed,
    "marac.v1.ActionReopened": lambda p: (
        f"Action reopened for {p.owning_agency}: {_action_kind(p)}, due by the end of {p.deadline.due_date}"
    ),
    "marac.v1.CaseTransferred": lambda p: (
        f"Case transferred from the {p.from_area} MARAC to {p.to_area} with {len(p.open_action_ids)} open action"
        f"{'s' if len(p.open_action_ids) != 1 else ''}"
    ),
    "repairs.v1.CaseFileOpened": _case_file("Repairs"),
    "repairs.v1.WorkOrderRaised": _work_order_raised,
    "repairs.v1.EvidenceAttached": lambda p: f"Evidence attached to a work order ({_enum_name(p, 'stage').lower()} the work)",
    "repairs.v1.ContractorAssigned": lambda p: f"Work order assigned to contractor {p.contractor}",
    "repairs.v1.LockChangeApproved": lambda p: "Lock change in a joint tenancy approved by the "
    + ("CSO" if _enum_name(p, "approver_role") == "APPROVER_CSO" else "line manager"),
    "repairs.v1.WorkStarted": lambda p: "Repair work started",
    "repairs.v1.WorkCompleted": lambda p: f"Repair work completed {'on time' if p.on_time else 'late'}",
    "repairs.v1.WorkOrderCancelled": lambda p: "Work order cancelled",
    # SLA engine (ADR 0016)
    "reporting.v1.SlaBreached": lambda p: f"Deadline missed: {_words(p.kind)} was not met by its due time",
    "reporting.v1.SlaMet": lambda p: f"Deadline met {'on time' if p.on_time else 'late'}: {_words(p.kind)}",
}


def _kind(p: Any) -> str:
    return REFERRAL_LABELS.get(_enum_name(p, "type"), _words(_enum_name(p, "type")))


# The referral pathways and consent gate (issue #4); intake's inputs to them.
SUMMARIES.update({
    "intake.v1.RehousingRequested": lambda p: f"Rehousing requested ({_words(_enum_name(p, 'route'))})",
    "intake.v1.PerpetratorWillingnessRecorded": lambda p: "Perpetrator "
    + ("willing" if p.willing else "not willing") + " to attend a perpetrator programme",
    "intake.v1.SafeguardingConcernRecorded": lambda p: f"Safeguarding concern recorded ({_words(_enum_name(p, 'kind'))})",
    "intake.v1.MaracReferralDetailsRecorded": lambda p: "Victim's details for the MARAC referral form recorded"
    + ("" if p.victim_aware else " (victim not aware of the referral)"),
    "referral.v1.ReferralOffered": lambda p: f"Referral offered to the victim: {_kind(p)} ({p.target_agency})",
    "referral.v1.ReferralAccepted": lambda p: f"Referral accepted: {_kind(p)}"
    + (f", to be made by the end of {p.deadline.due_date}" if p.HasField("deadline") else ""),
    "referral.v1.ReferralDeclined": lambda p: f"Referral declined by the victim: {_kind(p)}",
    "referral.v1.ReferralHeld": lambda p: f"{_kind(p)} held: no consent to share with {p.target_agency} "
    f"({_words(p.reason_code)})",
    "referral.v1.ReferralConsentCleared": lambda p: f"Consent recorded: {_kind(p)} may go to {p.target_agency}",
    "referral.v1.ConsentOverridden": lambda p: f"{_kind(p)} to proceed without consent on a recorded lawful basis "
    f"({_words(_enum_name(p, 'lawful_basis'))}; {_words(p.grounds)}), decided by the {p.officer_role}",
    "referral.v1.ReferralWithdrawn": lambda p: f"{_kind(p)} stopped: {_words(p.reason_code)}",
    "referral.v1.ConsentWithdrawnAfterSending": lambda p: f"Consent withdrawn after the {_kind(p)} was sent to "
    f"{p.target_agency}",
    "referral.v1.ReferralAcknowledged": lambda p: f"{_kind(p)} acknowledged by {p.target_agency}",
    "referral.v1.ReferralOutcomeRecorded": lambda p: f"{_kind(p)} outcome from {p.target_agency}: "
    f"{_words(_enum_name(p, 'outcome'))}",
    "referral.v1.CsoInformed": lambda p: f"CSO informed of the MARAC referral ({p.area or 'area not known'})",
    "referral.v1.RehousingDecisionRecorded": lambda p: "Rehousing "
    + ("approved" if p.approved else "refused") + f" ({_words(_enum_name(p, 'route'))})"
    + ("; high priority granted" if p.high_priority else "") + f", decided by the {p.decided_by_role}",
})
REFERRAL_LABELS.update({
    "REFUGE": "refuge", "PERPETRATOR_PROGRAMME": "perpetrator programme", "REHOUSING": "rehousing",
})


def summarise(event_type: str, payload: Any) -> str:
    summariser = SUMMARIES.get(event_type)
    if summariser is None or payload is None:
        return _words(event_type.rsplit(".", 1)[-1])
    return summariser(payload)


def _enum_name(message: Any, field: str) -> str:
    return _enum_value(message, field, getattr(message, field))


def _enum_value(message: Any, field: str, number: int) -> str:
    """The name of an enum field's value. A number this build does not know (a newer publisher
    added the value: a compatible change) reads as such, rather than failing the event."""
    return label(message.DESCRIPTOR.fields_by_name[field].enum_type, number)


@functools.lru_cache(maxsize=4096)
def _words(name: str) -> str:
    """'VICTIM_DIRECT' → 'victim direct'; 'CaseFileOpened' → 'case file opened'."""
    if "_" in name or name.isupper():
        return name.replace("_", " ").lower()
    out = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return out
