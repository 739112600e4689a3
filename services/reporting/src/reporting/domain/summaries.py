"""Plain-language summaries for timeline entries. No personal data: only kinds, counts, dates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Summariser = Callable[[Any], str]


def _disclosure(p: Any) -> str:
    children = len(p.children_ages)
    household = f"{children} child{'ren' if children != 1 else ''} in the household" if children else "no children recorded"
    return f"Disclosure received ({_words(_enum_name(p, 'channel'))}); {household}; patch {p.postcode_district}"


def _assessment(p: Any) -> str:
    return f"DASH risk assessment due by the end of {p.deadline.due_date}"


def _risk_assessed(p: Any) -> str:
    criteria = ", ".join(_words(p.DESCRIPTOR.fields_by_name["triggers"].enum_type.values_by_number[t].name) for t in p.triggers)
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
    return f"Referral required: {kind} to {p.target_agency}, due by the end of {p.deadline.due_date} ({p.reason})"


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
               "UNSAFE_TO_CONTACT": "Not safe to contact the victim now"}[_enum_name(p, "outcome")]
    if _enum_name(p, "outcome") == "MADE":
        outcome += " (within the deadline)" if p.deadline_met else " (after the deadline)"
    return outcome


def _consent(p: Any) -> str:
    return f"Consent {_words(_enum_name(p, 'decision'))} for: {', '.join(p.agencies)}"


def _reassigned(p: Any) -> str:
    return f"Case reassigned to {p.owner_cho} ({p.area}) from {p.previous_owner_cho or 'no owner'}"


def _work_order_raised(p: Any) -> str:
    measures = ", ".join(_words(p.DESCRIPTOR.fields_by_name["measures"].enum_type.values_by_number[m].name) for m in p.measures)
    return (
        f"{_enum_name(p, 'priority').capitalize()} work order raised ({_words(_enum_name(p, 'source'))}): "
        f"{measures}; due by {p.deadline.due_date}"
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
    "risk.v1.AssessmentRequired": _assessment,
    "risk.v1.RiskAssessed": _risk_assessed,
    "risk.v1.RiskEscalated": _risk_escalated,
    "referral.v1.ReferralRequired": _referral,
    "referral.v1.ReferralSent": lambda p: (
        f"{REFERRAL_LABELS.get(_enum_name(p, 'type'), _words(_enum_name(p, 'type')))} sent to {p.target_agency}"
    ),
    "marac.v1.CaseFileOpened": _case_file("MARAC"),
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


def summarise(event_type: str, payload: Any) -> str:
    summariser = SUMMARIES.get(event_type)
    if summariser is None or payload is None:
        return _words(event_type.rsplit(".", 1)[-1])
    return summariser(payload)


def _enum_name(message: Any, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    return descriptor.values_by_number[getattr(message, field)].name


def _words(name: str) -> str:
    """'VICTIM_DIRECT' → 'victim direct'; 'CaseFileOpened' → 'case file opened'."""
    if "_" in name or name.isupper():
        return name.replace("_", " ").lower()
    out = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return out
