"""ReferralApplication: the referrals a case's events call for (policy), and the lifecycle
commands of landlord staff and partner agencies over gRPC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.access import require_case
from caseplatform.calendar import WorkingDayCalendar
from caseplatform.clock import process_clock
from caseplatform.concurrency import retry_on_conflict
from caseplatform.envelope import IncomingEvent
from caseplatform.errors import InvalidArgument, NotFound, PermissionDenied
from caseplatform.identity import Actor
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from referral import commands
from referral.deadlines import PathwayDeadlines
from referral.domain.case_file import MaracHistory, ReferralCase
from referral.domain.pathways import LANDLORD, ReferralType, override_grounds
from referral.domain.referral import Referral
from referral.marac_form import marac_form
from referral.policy import PathwayPolicy
from referral.settings import MaracAreas, ReferralSettings

HOUSING_MANAGER = "HOUSING_MANAGER"
FUTURE_TOLERANCE_S = 300


def _role(actor: Actor) -> str:
    return "_".join(actor.role.upper().replace("-", " ").split())


class ReferralApplication(ServiceApplication):
    # A case file and a victim's MARAC history grow for as long as they are worked: snapshots
    # keep a change from replaying more than this many events (ADR 0034).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {ReferralCase: 100, MaracHistory: 100}

    def __init__(
        self, settings: PlatformSettings, calendar: WorkingDayCalendar | None = None,
        env: dict[str, str] | None = None, referral_settings: ReferralSettings | None = None,
    ) -> None:
        super().__init__("referral", settings, env)
        self.calendar = calendar or WorkingDayCalendar()
        self.referral_settings = referral_settings or ReferralSettings()
        own = self.referral_settings.marac_areas_file
        areas = MaracAreas.load(own) if own else MaracAreas.configured()
        self.deadlines = PathwayDeadlines(self.calendar, self.referral_settings, areas)
        self._policy = PathwayPolicy(self.deadlines)

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        self._policy(event, unit)

    # -- commands --------------------------------------------------------------------------

    @retry_on_conflict
    def record_victim_decision(self, command: commands.RecordVictimDecision, actor: Actor) -> Referral:
        self._staff_only(actor)
        at = self._at("at", command.at)
        referral = self.referral(command.referral_id, actor)
        deadline = None
        if command.accepted and referral.referral_type == ReferralType.SPECIALIST_SUPPORT:
            # Made within 1 working day of the victim agreeing (seed 001 §3, step 11).
            deadline = self.deadlines.due(ReferralType.SPECIALIST_SUPPORT, referral.id, at, referral.area)
        referral.record_decision(
            accepted=command.accepted, reason=command.reason, at=at, deadline=deadline, meta=self.meta(actor)
        )
        self.save(referral)
        return referral

    @retry_on_conflict
    def mark_sent(self, command: commands.MarkSent, actor: Actor) -> Referral:
        self._staff_only(actor)
        at = self._at("at", command.at)
        referral = self.referral(command.referral_id, actor)
        form = None
        if referral.referral_type == ReferralType.MARAC and not referral.is_sent:
            form = self._marac_form(referral, at)
        referral.mark_sent(at, self.meta(actor), form=form)
        self.save(referral)
        return referral

    @retry_on_conflict
    def record_acknowledgement(self, command: commands.RecordAcknowledgement, actor: Actor) -> Referral:
        referral = self._as_target(command.referral_id, actor)
        referral.acknowledge(process_clock().now(), self.meta(actor))
        self.save(referral)
        return referral

    @retry_on_conflict
    def record_outcome(self, command: commands.RecordOutcome, actor: Actor) -> Referral:
        referral = self._as_target(command.referral_id, actor)
        referral.record_outcome(command.outcome.value, command.note, process_clock().now(), self.meta(actor))
        self.save(referral)
        return referral

    @retry_on_conflict
    def override_consent(self, command: commands.OverrideConsent, actor: Actor) -> Referral:
        self._staff_only(actor)
        referral = self.referral(command.referral_id, actor)
        case = self.case(referral.case_id)
        now = process_clock().now()
        referral.override_consent(
            lawful_basis=command.lawful_basis.value,
            grounds=override_grounds(case.risk_grade, case.safeguarding_concern),
            reason=command.reason, officer_name=command.officer_name, officer_role=command.officer_role,
            resumed_deadline=self.deadlines.due(ReferralType(referral.referral_type), referral.id, now, referral.area),
            at=now, meta=self.meta(actor),
        )
        self.save(referral)
        return referral

    @retry_on_conflict
    def record_rehousing_decision(self, command: commands.RecordRehousingDecision, actor: Actor) -> Referral:
        self._staff_only(actor)
        if command.high_priority and _role(actor) != HOUSING_MANAGER:
            raise PermissionDenied("only a Housing Manager may grant high priority for rehousing")
        referral = self.referral(command.referral_id, actor)
        referral.decide_rehousing(
            route=command.route.value, approved=command.approved, high_priority=command.high_priority,
            reason=command.reason, decided_by_role=actor.role, at=process_clock().now(), meta=self.meta(actor),
        )
        self.save(referral)
        return referral

    # -- queries ---------------------------------------------------------------------------

    def referrals_for(self, case_id: UUID, actor: Actor | None = None) -> list[Referral]:
        case = self._get(ReferralCase.create_id(str(case_id)))
        ids = case.referral_ids if case is not None else []
        found = [r for r in (self._get(UUID(i)) for i in ids) if r is not None]
        if case is None:  # a case from before the case file existed: the thin service's ids
            found = [r for r in (self._get(Referral.create_id(str(case_id), t.value)) for t in ReferralType) if r]
        if actor is not None and actor.agency != LANDLORD:
            found = [r for r in found if r.target_agency == actor.agency]  # need-to-know
        return found

    def referral(self, referral_id: UUID, actor: Actor | None = None) -> Referral:
        referral = self._get(referral_id)
        if not isinstance(referral, Referral):
            raise NotFound("referral", str(referral_id))
        if actor is not None and actor.agency != LANDLORD and referral.target_agency != actor.agency:
            raise PermissionDenied("this referral is addressed to another agency")
        require_case(referral.case_id)  # a CHO: only referrals of their own patch's cases
        return referral

    def case(self, case_id: str) -> ReferralCase:
        case = self._get(ReferralCase.create_id(case_id))
        if case is None:
            raise NotFound("referral case file", case_id)
        return case

    # -- helpers ---------------------------------------------------------------------------

    def _marac_form(self, referral: Referral, at: datetime) -> dict[str, Any]:
        case = self.case(referral.case_id)
        history = self._get(MaracHistory.create_id(case.tenant_ref)) if case.tenant_ref else None
        meeting, _cutoff, _closes = self.deadlines.schedule(referral.area).next_listing(
            referral.required_at, self.calendar
        )
        return marac_form(referral, case, history, meeting)

    def _as_target(self, referral_id: UUID, actor: Actor) -> Referral:
        """Partner agencies act on referrals with their own identity: only the target agency may."""
        referral = self._get(referral_id)
        if not isinstance(referral, Referral):
            raise NotFound("referral", str(referral_id))
        if actor.agency != referral.target_agency:
            raise PermissionDenied("only the agency the referral was sent to may acknowledge it or report its outcome")
        require_case(referral.case_id)
        return referral

    @staticmethod
    def _staff_only(actor: Actor) -> None:
        if actor.agency != LANDLORD:
            raise PermissionDenied("only the landlord's staff record decisions, sending and overrides")

    @staticmethod
    def _at(field: str, value: datetime | None) -> datetime:
        now = process_clock().now()
        if value is None:
            return now
        if (value - now).total_seconds() > FUTURE_TOLERANCE_S:
            raise InvalidArgument.one(field, "is in the future")
        return value

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
