"""What referral knows of a case, learnt from intake's and risk's events: enough to decide the
pathways, to gate sharing on consent, and to assemble the MARAC referral form without re-keying.
Not published (its events stay in referral's store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id
from referral.domain.repeat import within_twelve_months


class ReferralCase(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("referral", "case", case_id)

    @event("CaseNoted")
    def __init__(self, *, case_id: str, meta: dict[str, Any]) -> None:
        self.case_id = case_id
        self.area = ""
        self.tenant_ref = ""
        self.children_count = 0
        self.received_at: datetime | None = None
        self.risk_grade = ""
        self.triggers: list[str] = []
        self.consents: dict[str, str] = {}
        self.safeguarding_concern = False
        self.form: dict[str, Any] = {}
        self.referral_ids: list[str] = []
        # Risk's requirements that came before intake's disclosure (see PathwayPolicy.on_RiskAssessed).
        self.waiting: list[dict[str, Any]] = []

    @property
    def disclosed(self) -> bool:
        """Intake's disclosure is known here: the case's area and tenancy with it."""
        return self.received_at is not None

    @event("RequirementWaiting")
    def wait_for_disclosure(self, *, referral_type: str, reason: str, start: datetime, meta: dict[str, Any]) -> None:
        self.waiting.append({"referral_type": referral_type, "reason": reason, "start": start})

    @event("WaitingRequirementsTaken")
    def take_waiting(self, *, meta: dict[str, Any]) -> None:
        self.waiting = []

    @event("DisclosureNoted")
    def note_disclosure(
        self, *, area: str, tenant_ref: str, children_count: int, received_at: datetime, meta: dict[str, Any]
    ) -> None:
        self.area = area or self.area
        self.tenant_ref = tenant_ref or self.tenant_ref
        self.children_count = max(self.children_count, children_count)
        self.received_at = self.received_at or received_at

    @event("AreaNoted")
    def note_area(self, *, area: str, meta: dict[str, Any]) -> None:
        self.area = area

    @event("RiskNoted")
    def note_risk(self, *, grade: str, triggers: list[str], meta: dict[str, Any]) -> None:
        self.risk_grade = grade
        self.triggers = list(triggers)

    @event("ConsentNoted")
    def note_consent(self, *, decision: str, agencies: list[str], meta: dict[str, Any]) -> None:
        for agency in agencies:
            self.consents[agency] = decision

    @event("SafeguardingConcernNoted")
    def note_safeguarding_concern(self, *, kind: str, meta: dict[str, Any]) -> None:
        self.safeguarding_concern = True

    @event("FormDetailsNoted")
    def note_form_details(self, *, form: dict[str, Any], meta: dict[str, Any]) -> None:
        self.form = dict(form)

    @event("ReferralFiled")
    def file_referral(self, *, referral_id: str, meta: dict[str, Any]) -> None:
        if referral_id not in self.referral_ids:
            self.referral_ids.append(referral_id)


class MaracHistory(CaseAggregate):
    """The MARAC referrals of one victim (by tenancy reference), across cases: a new incident
    within 12 months of the last one makes a repeat, whatever the score (SafeLives)."""

    @staticmethod
    def create_id(subject_ref: str, **_: Any) -> UUID:
        return stable_id("referral", "marac-history", subject_ref)

    @event("MaracHistoryOpened")
    def __init__(self, *, subject_ref: str, meta: dict[str, Any]) -> None:
        self.subject_ref = subject_ref
        self.referrals: list[dict[str, Any]] = []

    @event("MaracReferralNoted")
    def note_referral(self, *, referral_id: str, case_id: str, at: datetime, meta: dict[str, Any]) -> None:
        self.referrals.append({"referral_id": referral_id, "case_id": case_id, "at": at})

    def within_year_before(self, instant: datetime) -> list[dict[str, Any]]:
        return [r for r in self.referrals if within_twelve_months(r["at"], instant)]
