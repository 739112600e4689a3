"""The Referral aggregate: one referral of a case to another agency (or, for rehousing, to the
landlord's own allocations), its consent gate and its status history with times and actors.

Lifecycle: REQUIRED → OFFERED → ACCEPTED / DECLINED → SENT → ACKNOWLEDGED → OUTCOME; WITHDRAWN
when consent is withdrawn before sending. A referral the policy requires is never deleted: it can
only be declined (with a reason), withdrawn, or run its course — its history is the record.
Rules raise PreconditionFailed / InvalidArgument (the edge maps them) and change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.errors import InvalidArgument, PreconditionFailed
from caseplatform.ids import stable_id
from referral.domain.pathways import PATHWAYS, Gate, ReferralType, Status

# Back-compat names (the thin service's constants).
CHILDRENS_MARF = ReferralType.CHILDRENS_MARF.value
LOCAL_AUTHORITY_DUTY_TEAM = PATHWAYS[ReferralType.CHILDRENS_MARF].target_agency

NOT_YET_SENT = (Status.REQUIRED, Status.OFFERED, Status.ACCEPTED)
SENT_OR_LATER = (Status.SENT, Status.ACKNOWLEDGED, Status.OUTCOME)


def _actor(meta: dict[str, Any]) -> dict[str, str]:
    return dict(meta.get("actor", {}))


class Referral(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, referral_type: str, occasion: str = "", **_: Any) -> UUID:
        # One referral of each type per case and occasion: a redelivered trigger finds the first.
        # The first occasion keeps the thin service's id; later ones (a repeat MARAC on a further
        # disclosure, a second rehousing request) are named by the triggering event.
        if not occasion:
            return stable_id("referral", case_id, referral_type)
        return stable_id("referral", case_id, referral_type, occasion)

    @event("ReferralRequired")
    def __init__(
        self,
        *,
        case_id: str,
        referral_type: str,
        target_agency: str,
        reason: str,
        deadline: dict[str, str] | None,
        meta: dict[str, Any],
        occasion: str = "",
        gate: str = Gate.NOT_NEEDED.value,
        area: str = "",
        case_deadline_kind: str = "",
        required_at: datetime | None = None,
    ) -> None:
        self.case_id = case_id
        self.referral_type = referral_type
        self.target_agency = target_agency
        self.reason = reason
        self.deadline = deadline
        self.occasion = occasion
        self.gate = gate
        self.area = area
        # A case-level clock the referral also meets (intake's CHILDRENS_REFERRAL for the MARF).
        self.case_deadline_kind = case_deadline_kind
        self.status = Status.REQUIRED.value
        self.history: list[dict[str, Any]] = []
        self.required_at: datetime = required_at or self.created_on
        self._record_status(Status.REQUIRED, meta, self.required_at)
        self.sent_at: datetime | None = None
        self.acknowledged_at: datetime | None = None
        self.outcome = ""
        self.decline_reason = ""
        self.hold_reason = ""
        self.override: dict[str, Any] | None = None
        self.rehousing: dict[str, Any] | None = None
        self.consent_withdrawn_after_sending = False
        self.status_before_withdrawal = ""
        self.on_time = False
        self.form: dict[str, Any] | None = None

    # -- queries ---------------------------------------------------------------------------

    @property
    def pathway(self):
        return PATHWAYS[ReferralType(self.referral_type)]

    @property
    def is_sent(self) -> bool:
        return self.status in SENT_OR_LATER

    @property
    def gate_open(self) -> bool:
        return self.gate in (Gate.NOT_NEEDED, Gate.CONSENTED, Gate.OVERRIDDEN)

    def clock_id(self) -> str:
        return f"referral:{self.id}"

    def _record_status(self, status: str, meta: dict[str, Any], at: datetime) -> None:
        self.history.append({"status": str(status), "at": at, "actor": _actor(meta)})
        self.status = str(status)

    # -- the offer -------------------------------------------------------------------------

    def offer(self, at: datetime, meta: dict[str, Any]) -> None:
        if self.status == Status.REQUIRED and self.pathway.voluntary:
            self._offered(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, at=at, meta=meta)

    @event("ReferralOffered")
    def _offered(self, *, case_id: str, referral_type: str, target_agency: str, at: datetime, meta: dict[str, Any]) -> None:
        self._record_status(Status.OFFERED, meta, at)

    def record_decision(
        self, *, accepted: bool, reason: str, at: datetime, deadline: dict[str, str] | None, meta: dict[str, Any]
    ) -> None:
        if self.referral_type in (ReferralType.MARAC, ReferralType.CHILDRENS_MARF):
            raise PreconditionFailed(
                f"a {self.referral_type} referral is not the victim's to decline: the consent gate governs sharing"
            )
        if self.status not in NOT_YET_SENT:
            raise PreconditionFailed(f"the referral is {self.status.lower()}: no decision can be recorded")
        if self.status == Status.ACCEPTED and accepted:
            return  # the same acceptance again
        if accepted:
            self._accepted(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, at=at, deadline=deadline or self.deadline, meta=meta)
        else:
            if not reason.strip():
                raise InvalidArgument.one("reason", "declining a referral needs a reason")
            self._declined(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, at=at, reason=reason, withdrawn=self.deadline, meta=meta)

    @event("ReferralAccepted")
    def _accepted(self, *, case_id: str, referral_type: str, target_agency: str, at: datetime, deadline: dict[str, str] | None, meta: dict[str, Any]) -> None:
        self.deadline = deadline
        self._record_status(Status.ACCEPTED, meta, at)

    @event("ReferralDeclined")
    def _declined(
        self, *, case_id: str, referral_type: str, target_agency: str, at: datetime, reason: str, withdrawn: dict[str, str] | None, meta: dict[str, Any]
    ) -> None:
        self.decline_reason = reason
        self._record_status(Status.DECLINED, meta, at)

    # -- the consent gate ------------------------------------------------------------------

    def hold(self, reason_code: str, meta: dict[str, Any]) -> None:
        if self.is_sent or self.gate == Gate.OVERRIDDEN or not self.pathway.shares_outside:
            return
        if self.status in (Status.DECLINED, Status.WITHDRAWN):
            return
        if self.gate == Gate.HELD and self.hold_reason == reason_code:
            return
        self._held(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, reason_code=reason_code, meta=meta)

    @event("ReferralHeld")
    def _held(self, *, case_id: str, referral_type: str, target_agency: str, reason_code: str, meta: dict[str, Any]) -> None:
        self.gate = Gate.HELD.value
        self.hold_reason = reason_code

    def clear_consent(self, at: datetime, resumed_deadline: dict[str, str] | None, meta: dict[str, Any]) -> None:
        if self.gate not in (Gate.HELD, Gate.WITHDRAWN) or self.is_sent or self.status == Status.DECLINED:
            return
        resumed = resumed_deadline if self.status == Status.WITHDRAWN else None
        self._consent_cleared(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, at=at, deadline=resumed, meta=meta)

    @event("ReferralConsentCleared")
    def _consent_cleared(
        self, *, case_id: str, referral_type: str, target_agency: str, at: datetime, deadline: dict[str, str] | None, meta: dict[str, Any]
    ) -> None:
        self.gate = Gate.CONSENTED.value
        self.hold_reason = ""
        self._resume(deadline, meta, at)

    def override_consent(
        self, *, lawful_basis: str, grounds: str | None, reason: str, officer_name: str, officer_role: str,
        resumed_deadline: dict[str, str] | None, at: datetime, meta: dict[str, Any],
    ) -> None:
        if self.is_sent or self.status == Status.DECLINED:
            raise PreconditionFailed(f"the referral is {self.status.lower()}: nothing to override")
        if self.gate == Gate.OVERRIDDEN:
            return
        if self.gate not in (Gate.HELD, Gate.WITHDRAWN):
            raise PreconditionFailed("the consent gate does not hold this referral")
        if self.pathway.voluntary:
            raise PreconditionFailed("a voluntary referral needs the person's agreement: consent cannot be overridden")
        if grounds is None:
            raise PreconditionFailed(
                "consent can be overridden only when risk is HIGH or a safeguarding concern is recorded"
            )
        resumed = resumed_deadline if self.status == Status.WITHDRAWN else None
        self._overridden(
            case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, lawful_basis=lawful_basis, grounds=grounds, reason=reason,
            officer_name=officer_name, officer_role=officer_role, deadline=resumed, at=at, meta=meta,
        )

    @event("ConsentOverridden")
    def _overridden(
        self, *, case_id: str, referral_type: str, target_agency: str, lawful_basis: str, grounds: str, reason: str, officer_name: str, officer_role: str,
        deadline: dict[str, str] | None, at: datetime, meta: dict[str, Any],
    ) -> None:
        self.gate = Gate.OVERRIDDEN.value
        self.hold_reason = ""
        self.override = {
            "lawful_basis": lawful_basis, "grounds": grounds, "reason": reason, "officer_name": officer_name,
            "officer_role": officer_role, "decided_by": _actor(meta).get("user", ""), "at": at,
        }
        self._resume(deadline, meta, at)

    def _resume(self, deadline: dict[str, str] | None, meta: dict[str, Any], at: datetime) -> None:
        if self.status == Status.WITHDRAWN:
            self.deadline = deadline
            self._record_status(self.status_before_withdrawal or Status.REQUIRED, meta, at)

    def consent_withdrawn(self, at: datetime, meta: dict[str, Any]) -> None:
        """Withdrawn consent stops a referral not yet sent, and is recorded on one already sent."""
        if self.is_sent:
            if not self.consent_withdrawn_after_sending:
                self._withdrawn_after_sending(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, meta=meta)
            return
        if self.status in (Status.DECLINED, Status.WITHDRAWN) or self.gate == Gate.OVERRIDDEN:
            return  # nothing running, or proceeding on a lawful basis rather than consent
        self._withdrawn(
            case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, reason_code="CONSENT_WITHDRAWN", withdrawn=self.deadline, at=at, meta=meta
        )

    @event("ReferralWithdrawn")
    def _withdrawn(
        self, *, case_id: str, referral_type: str, target_agency: str, reason_code: str, withdrawn: dict[str, str] | None, at: datetime, meta: dict[str, Any]
    ) -> None:
        self.status_before_withdrawal = self.status
        self.gate = Gate.WITHDRAWN.value
        self.hold_reason = reason_code
        self._record_status(Status.WITHDRAWN, meta, at)

    @event("ConsentWithdrawnAfterSending")
    def _withdrawn_after_sending(self, *, case_id: str, referral_type: str, target_agency: str, meta: dict[str, Any]) -> None:
        self.consent_withdrawn_after_sending = True

    # -- sending and after -----------------------------------------------------------------

    def mark_sent(self, at: datetime, meta: dict[str, Any], form: dict[str, Any] | None = None) -> None:
        if self.is_sent:
            return  # already sent: the same call again
        if self.referral_type == ReferralType.REHOUSING:
            raise PreconditionFailed("rehousing is decided by the landlord (RecordRehousingDecision), not sent")
        if self.status == Status.OFFERED:
            raise PreconditionFailed("the offer has not been accepted (RecordVictimDecision)")
        if self.status not in (Status.REQUIRED, Status.ACCEPTED):
            raise PreconditionFailed(f"the referral is {self.status.lower()}: it cannot be sent")
        if not self.gate_open:
            raise PreconditionFailed(
                f"held by the consent gate ({self.hold_reason or 'no consent'}): record consent covering "
                f"{self.target_agency}, or OverrideConsent when risk is HIGH or a safeguarding concern is recorded"
            )
        on_time = self.deadline is None or at <= datetime.fromisoformat(self.deadline["due_at"])
        self._sent(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, at=at, on_time=on_time, deadline=self.deadline, form=form,
            gate=self.gate, lawful_basis=(self.override or {}).get("lawful_basis", ""), required_at=self.required_at,
            meta=meta,
        )

    @event("ReferralSent")
    def _sent(
        self, *, case_id: str, referral_type: str, target_agency: str, at: datetime, on_time: bool, deadline: dict[str, str] | None,
        form: dict[str, Any] | None, gate: str, lawful_basis: str, required_at: datetime, meta: dict[str, Any],
    ) -> None:
        self.form = form
        self.sent_at = at
        self.on_time = on_time
        self._record_status(Status.SENT, meta, at)

    def acknowledge(self, at: datetime, meta: dict[str, Any]) -> None:
        if self.status in (Status.ACKNOWLEDGED, Status.OUTCOME):
            return
        if self.status != Status.SENT:
            raise PreconditionFailed("only a sent referral can be acknowledged")
        self._acknowledged(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, at=at, meta=meta)

    @event("ReferralAcknowledged")
    def _acknowledged(self, *, case_id: str, referral_type: str, target_agency: str, at: datetime, meta: dict[str, Any]) -> None:
        self.acknowledged_at = at
        self._record_status(Status.ACKNOWLEDGED, meta, at)

    def record_outcome(self, outcome: str, note: str, at: datetime, meta: dict[str, Any]) -> None:
        if self.status == Status.OUTCOME and self.outcome == outcome:
            return
        if self.status not in (Status.SENT, Status.ACKNOWLEDGED, Status.OUTCOME):
            raise PreconditionFailed("an outcome is reported on a referral that was sent")
        self._outcome(case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, outcome=outcome, note=note, at=at,
            required_at=self.required_at, sent_at=self.sent_at, meta=meta,
        )

    @event("ReferralOutcomeRecorded")
    def _outcome(self, *, case_id: str, referral_type: str, target_agency: str, outcome: str, note: str, at: datetime,
                 required_at: datetime, sent_at: datetime | None, meta: dict[str, Any]) -> None:
        self.outcome = outcome
        self._record_status(Status.OUTCOME, meta, at)

    # -- rehousing -------------------------------------------------------------------------

    def decide_rehousing(
        self, *, route: str, approved: bool, high_priority: bool, reason: str, decided_by_role: str,
        at: datetime, meta: dict[str, Any],
    ) -> None:
        if self.referral_type != ReferralType.REHOUSING:
            raise PreconditionFailed("only a rehousing referral takes a rehousing decision")
        if self.rehousing is not None:
            raise PreconditionFailed("the rehousing decision is already recorded")
        if not approved and not reason.strip():
            raise InvalidArgument.one("reason", "refusing a rehousing request needs a reason")
        self._rehousing_decided(
            case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency, route=route, approved=approved, high_priority=high_priority and approved,
            reason=reason, decided_by_role=decided_by_role, at=at, meta=meta,
        )

    @event("RehousingDecisionRecorded")
    def _rehousing_decided(
        self, *, case_id: str, referral_type: str, target_agency: str, route: str, approved: bool, high_priority: bool, reason: str, decided_by_role: str,
        at: datetime, meta: dict[str, Any],
    ) -> None:
        self.rehousing = {
            "route": route, "approved": approved, "high_priority": high_priority, "reason": reason,
            "decided_by_role": decided_by_role, "at": at,
        }
        if not approved:
            self.decline_reason = reason
        self._record_status(Status.ACCEPTED if approved else Status.DECLINED, meta, at)

    # -- the MARAC representative ----------------------------------------------------------

    def inform_cso(self, meta: dict[str, Any]) -> None:
        """The CSO is the landlord's MARAC representative: told of every MARAC referral."""
        self._cso_informed(
            case_id=self.case_id, referral_type=self.referral_type, target_agency=self.target_agency,
            area=self.area, meta=meta,
        )

    @event("CsoInformed")
    def _cso_informed(self, *, case_id: str, referral_type: str, target_agency: str, area: str,
                      meta: dict[str, Any]) -> None:
        pass
