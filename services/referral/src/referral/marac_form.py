"""The SafeLives MARAC referral form, assembled from what intake and risk published (never
re-keyed): codes, counts and flags only. Safe times, who the victim fears and who is safe to talk
to stay in intake; the form says whether they are on record (ADR 0013)."""

from __future__ import annotations

from datetime import date
from typing import Any

from referral.domain.case_file import MaracHistory, ReferralCase
from referral.domain.pathways import LANDLORD, Gate
from referral.domain.referral import Referral
from referral.domain.repeat import within_twelve_months


def marac_form(referral: Referral, case: ReferralCase, history: MaracHistory | None, meeting: date) -> dict[str, Any]:
    previous = [
        r for r in (history.referrals if history else [])
        if r["referral_id"] != str(referral.id) and r["at"] <= referral.required_at
        and within_twelve_months(r["at"], referral.required_at)
    ]
    repeat = bool(previous)
    criteria = [t for t in case.triggers if t != "REPEAT"] + (["REPEAT"] if repeat else [])
    details = case.form
    override = referral.override or {}
    return {
        "case_id": case.case_id,
        "area": case.area,
        "meeting_date": meeting.isoformat(),
        "subject_ref": case.tenant_ref,
        "risk_grade": case.risk_grade,
        "criteria": criteria,
        "children_count": case.children_count,
        "referring_agency": LANDLORD,
        "victim_aware": bool(details.get("victim_aware")),
        "victim_unaware_reason": details.get("victim_unaware_reason", ""),
        "consent_given": referral.gate == Gate.CONSENTED,
        "lawful_basis": override.get("lawful_basis", ""),
        "lawful_basis_grounds": override.get("grounds", ""),
        "previous_marac_count": len(previous),
        "repeat": repeat,
        "safe_to_call": bool(details.get("safe_to_call")),
        "safe_times_recorded": bool(details.get("safe_times_recorded")),
        "perpetrator_relationship": details.get("perpetrator_relationship", ""),
        "who_victim_fears_recorded": bool(details.get("who_victim_fears_recorded")),
        "safe_to_talk_to_recorded": bool(details.get("safe_to_talk_to_recorded")),
        "diversity": dict(details.get("diversity", {})),
    }
