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


def _referral(p: Any) -> str:
    return f"Referral required: {_words(_enum_name(p, 'type'))} to {p.target_agency}, due by the end of {p.deadline.due_date} ({p.reason})"


def _case_file(service: str) -> Summariser:
    return lambda p: f"{service} opened its case file (patch {p.postcode_district})"


SUMMARIES: dict[str, Summariser] = {
    "intake.v1.DisclosureReceived": _disclosure,
    "risk.v1.AssessmentRequired": _assessment,
    "referral.v1.ReferralRequired": _referral,
    "marac.v1.CaseFileOpened": _case_file("MARAC"),
    "repairs.v1.CaseFileOpened": _case_file("Repairs"),
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
