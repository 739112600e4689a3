"""The MaracCase aggregate: a case at MARAC — the area whose MARAC holds it, the MARAC referrals it
received, the information agencies shared on it at meetings, and its transfers between areas.
The whole record travels with the case on a MARAC-to-MARAC transfer (DOMAIN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.errors import PreconditionFailed
from caseplatform.ids import stable_id


class MaracCase(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("marac", "marac-case", case_id)

    @event("MaracCaseOpened")
    def __init__(self, *, case_id: str, area: str, meta: dict[str, Any]) -> None:
        self.case_id = case_id
        self.area = area
        self.referrals: list[dict[str, Any]] = []
        self.information_shared: list[dict[str, Any]] = []
        self.transfers: list[dict[str, Any]] = []

    @property
    def latest_referral(self) -> dict[str, Any] | None:
        return self.referrals[-1] if self.referrals else None

    def has_referral(self, referral_id: str) -> bool:
        return any(r["referral_id"] == referral_id for r in self.referrals)

    @event("ReferralReceived")
    def receive_referral(
        self, *, case_id: str, referral_id: str, area: str, subject_ref: str, risk_grade: str, criteria: list[str],
        children_count: int, referring_agency: str, repeat: bool, received_at: datetime, meta: dict[str, Any],
    ) -> None:
        self.referrals.append({
            "referral_id": referral_id, "area": area, "subject_ref": subject_ref, "risk_grade": risk_grade,
            "criteria": list(criteria), "children_count": children_count, "referring_agency": referring_agency,
            "repeat": repeat, "received_at": received_at,
        })
        self.area = area

    @event("InformationShared")
    def share_information(
        self, *, case_id: str, meeting_id: str, agency: str, categories: list[str], summary: str,
        recorded_by: dict[str, str], recorded_at: datetime, meta: dict[str, Any],
    ) -> None:
        self.information_shared.append({
            "meeting_id": meeting_id, "agency": agency, "categories": list(categories), "summary": summary,
            "recorded_by": recorded_by, "recorded_at": recorded_at,
        })

    def transfer(
        self, *, to_area: str, reason: str, open_action_ids: list[str], transferred_at: datetime, meta: dict[str, Any]
    ) -> None:
        if to_area == self.area:
            raise PreconditionFailed(f"the case is already at the {to_area} MARAC")
        self._transferred(
            case_id=self.case_id, from_area=self.area, to_area=to_area, reason=reason,
            open_action_ids=open_action_ids, transferred_at=transferred_at, meta=meta,
        )

    @event("CaseTransferred")
    def _transferred(
        self, *, case_id: str, from_area: str, to_area: str, reason: str, open_action_ids: list[str],
        transferred_at: datetime, meta: dict[str, Any],
    ) -> None:
        self.transfers.append({
            "from_area": from_area, "to_area": to_area, "reason": reason,
            "open_action_ids": list(open_action_ids), "transferred_at": transferred_at,
        })
        self.area = to_area


class SubjectHistory(CaseAggregate):
    """The MARAC referrals of one victim (by pseudonymous subject reference), across cases and
    areas: what the repeat flag is read from. Not published."""

    @staticmethod
    def create_id(subject_ref: str, **_: Any) -> UUID:
        return stable_id("marac", "subject", subject_ref)

    @event("SubjectOpened")
    def __init__(self, *, subject_ref: str, meta: dict[str, Any]) -> None:
        self.subject_ref = subject_ref
        self.referrals: list[dict[str, str]] = []  # {referral_id, case_id, referred_on (ISO date)}

    @event("SubjectReferred")
    def add(self, *, referral_id: str, case_id: str, referred_on: str, meta: dict[str, Any]) -> None:
        self.referrals.append({"referral_id": referral_id, "case_id": case_id, "referred_on": referred_on})
