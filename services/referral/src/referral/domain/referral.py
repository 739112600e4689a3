"""The Referral aggregate: one referral of a case to another agency, and its status history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id

CHILDRENS_MARF = "CHILDRENS_MARF"
LOCAL_AUTHORITY_DUTY_TEAM = "local-authority-duty-team"


class Referral(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, referral_type: str, **_: Any) -> UUID:
        # One referral of each type per case: the policy requiring it twice finds the first.
        return stable_id("referral", case_id, referral_type)

    @event("ReferralRequired")
    def __init__(
        self,
        *,
        case_id: str,
        referral_type: str,
        target_agency: str,
        reason: str,
        deadline: dict[str, str],
        meta: dict[str, Any],
    ) -> None:
        self.case_id = case_id
        self.referral_type = referral_type
        self.target_agency = target_agency
        self.reason = reason
        self.deadline = deadline
        self.status = "REQUIRED"


def childrens_referral_reason(children: int) -> str:
    # Children are affected even if not present at any incident and even if already known
    # to social services (seed 001 §3): the referral is required whenever any live there.
    noun = "child" if children == 1 else "children"
    return f"{children} {noun} in the household"
