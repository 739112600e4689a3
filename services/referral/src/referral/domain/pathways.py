"""The referral pathways (issue #4, DOMAIN.md steps 5, 6, 11, 12): which referral a trigger calls
for, to which agency, whether the person it serves must agree first, and whether it shares
information outside the landlord (then the consent gate applies)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReferralType(StrEnum):
    CHILDRENS_MARF = "CHILDRENS_MARF"
    MARAC = "MARAC"
    SPECIALIST_SUPPORT = "SPECIALIST_SUPPORT"
    HOUSING_OPTIONS = "HOUSING_OPTIONS"
    REFUGE = "REFUGE"
    PERPETRATOR_PROGRAMME = "PERPETRATOR_PROGRAMME"
    REHOUSING = "REHOUSING"


# The landlord's own agency name: a referral to it (rehousing) shares nothing outside.
LANDLORD = "landlord"


@dataclass(frozen=True)
class Pathway:
    type: ReferralType
    target_agency: str
    voluntary: bool          # offered first: made only when the person it serves accepts
    deadline_kind: str       # the SLA clock's kind (empty: a recorded decision, no clock)

    @property
    def shares_outside(self) -> bool:
        return self.target_agency != LANDLORD


PATHWAYS: dict[ReferralType, Pathway] = {
    p.type: p
    for p in (
        # Children affected, even if not present and even if known to social services: same day.
        Pathway(ReferralType.CHILDRENS_MARF, "local-authority-duty-team", False, "CHILDRENS_REFERRAL"),
        # HIGH risk or a repeat: the area's next MARAC, before its case-list cut-off.
        Pathway(ReferralType.MARAC, "marac", False, "MARAC_REFERRAL"),
        # MEDIUM or STANDARD: offered; made within 1 working day of the victim agreeing.
        Pathway(ReferralType.SPECIALIST_SUPPORT, "specialist-support", True, "SUPPORT_REFERRAL"),
        # Not safe to go home: Housing Options (local authority) and refuge via a specialist
        # agency, the same working day.
        Pathway(ReferralType.HOUSING_OPTIONS, "local-authority-housing-options", False, "HOUSING_OPTIONS_REFERRAL"),
        Pathway(ReferralType.REFUGE, "refuge-provider", False, "REFUGE_REFERRAL"),
        # A willing perpetrator: referred when they consent (no clock).
        Pathway(ReferralType.PERPETRATOR_PROGRAMME, "perpetrator-programme", True, ""),
        # Rehousing: a decision the landlord records (Housing Manager for high priority).
        Pathway(ReferralType.REHOUSING, LANDLORD, False, ""),
    )
}


class Gate(StrEnum):
    NOT_NEEDED = "NOT_NEEDED"
    HELD = "HELD"
    CONSENTED = "CONSENTED"
    OVERRIDDEN = "OVERRIDDEN"
    WITHDRAWN = "WITHDRAWN"


class Status(StrEnum):
    REQUIRED = "REQUIRED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    SENT = "SENT"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    OUTCOME = "OUTCOME"
    WITHDRAWN = "WITHDRAWN"


class Outcome(StrEnum):
    ENGAGED = "ENGAGED"
    DECLINED_BY_AGENCY = "DECLINED_BY_AGENCY"
    CLOSED = "CLOSED"


class LawfulBasis(StrEnum):
    CRIME_AND_DISORDER_ACT_S115 = "CRIME_AND_DISORDER_ACT_S115"
    VITAL_INTERESTS = "VITAL_INTERESTS"
    SAFEGUARDING_CHILDREN = "SAFEGUARDING_CHILDREN"
    SAFEGUARDING_ADULTS = "SAFEGUARDING_ADULTS"


class RehousingRoute(StrEnum):
    RESPITE_OR_TEMPORARY = "RESPITE_OR_TEMPORARY"
    MANAGEMENT_TRANSFER = "MANAGEMENT_TRANSFER"
    ALLOCATIONS = "ALLOCATIONS"


def consent_covers(consents: dict[str, str], agency: str) -> str | None:
    """The victim's latest consent decision covering `agency` (GIVEN/REFUSED/WITHDRAWN), if any."""
    return consents.get(agency)


def override_grounds(risk_grade: str, safeguarding_concern: bool) -> str | None:
    """Why sharing without consent may be considered at all (DOMAIN.md §Consent), or None."""
    if risk_grade == "HIGH":
        return "HIGH_RISK"
    if safeguarding_concern:
        return "SAFEGUARDING_CONCERN"
    return None


def children_reason(children: int) -> str:
    # Children are affected even if not present at any incident and even if already known
    # to social services (seed 001 §3): the referral is required whenever any live there.
    noun = "child" if children == 1 else "children"
    return f"{children} {noun} in the household"
