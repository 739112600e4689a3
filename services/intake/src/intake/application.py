"""IntakeApplication: the commands and queries of intake, over its event store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.clock import process_clock
from caseplatform.concurrency import retry_on_conflict
from caseplatform.enums import enum_name
from caseplatform.envelope import IncomingEvent
from caseplatform.errors import Conflict, InvalidArgument, NotFound, PreconditionFailed
from caseplatform.identity import Actor
from caseplatform.ids import parse_uuid
from caseplatform.inbox import Unit
from caseplatform.personal import PersonalData
from caseplatform.personal import SubjectErased as SubjectKeyErased
from caseplatform.projection import Rows
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication, Sql
from casework.marac.v1 import events_pb2 as marac_events
from casework.risk.v1 import events_pb2 as risk_events
from intake import commands, erasure
from intake.case_list import CaseList, CaseRow
from intake.commands import (
    ChangeStatus,
    RecordConsent,
    RecordNote,
    RecordSafeContact,
    SubmitDisclosure,
)
from intake.dacc import history as dacc_history
from intake.dacc.aggregates import DaccIncident, TenancyFile
from intake.domain.case import OPEN, Case, CaseClosedError, LinkedDisclosure, VictimIndex
from intake.domain.deadlines import disclosure_deadlines
from intake.domain.patches import PatchRegister
from intake.patch_register import load_patch_register
from intake.sealing import VICTIM, Sealer, new_subjects


@dataclass(frozen=True)
class Submitted:
    case: Case
    created: bool
    linked: bool = False


class IntakeApplication(ServiceApplication):
    # A case gains an event for every note, contact, consent and correction for as long as it is
    # worked, a tenancy's file one for every grade, order, report and incident for as long as the
    # tenancy lasts: snapshots keep a command from replaying more than this many (ADR 0034). They
    # hold personal fields sealed, as the events do, so erasing a subject's key erases them too.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Case: 100, TenancyFile: 100}

    def __init__(
        self,
        settings: PlatformSettings,
        calendar: WorkingDayCalendar | None = None,
        patches: PatchRegister | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__("intake", settings, env)
        self.calendar = calendar or WorkingDayCalendar()
        self.patches = patches or load_patch_register()
        self.sealer = Sealer(PersonalData(self))
        self.case_list = CaseList(self)  # ListCases' rows (ADR 0029)
        self._fill_case_list()

    # ----- disclosures --------------------------------------------------------------------------

    def submit_disclosure(self, command: SubmitDisclosure, actor: Actor) -> Submitted:
        if command.received_in_future(process_clock().now()):
            raise InvalidArgument.one("received_at", "is in the future")
        request_hash = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        key_id = Case.create_id(actor.agency, command.idempotency_key)
        return self._answer_or_record(command, actor, key_id, request_hash)

    @retry_on_conflict  # the same key or victim written concurrently, or the open case changed by a policy
    def _answer_or_record(self, command: SubmitDisclosure, actor: Actor, key_id: UUID, request_hash: str) -> Submitted:
        return self._answer_retry(key_id, request_hash) or self._new_disclosure(command, actor, request_hash)

    def _answer_retry(self, key_id: UUID, request_hash: str) -> Submitted | None:
        seen = self._find(key_id)
        if seen is None:
            return None
        if seen.request_hash != request_hash:
            raise Conflict("idempotency_key was already used for a different disclosure")
        if isinstance(seen, LinkedDisclosure):
            return Submitted(self.get_case(UUID(seen.case_id)), created=False, linked=True)
        return Submitted(seen, created=False)

    def _new_disclosure(self, command: SubmitDisclosure, actor: Actor, request_hash: str) -> Submitted:
        meta = self.meta(actor)
        index = self._victim_index(command.victim.tenant_ref)
        open_case = self._find(UUID(index.open_case_id)) if index and index.open_case_id else None
        if isinstance(open_case, Case) and open_case.status == OPEN:
            open_case.add_disclosure(
                idempotency_key=command.idempotency_key, channel=command.channel.value,
                received_at=command.received_at, children_ages=[c.age for c in command.children],
                details=self._sealed_details(open_case, command.details()), meta=meta,
            )
            link = LinkedDisclosure(
                idempotency_scope=actor.agency, idempotency_key=command.idempotency_key,
                case_id=open_case.case_id, request_hash=request_hash, meta=meta,
            )
            self.save(open_case, link)
            return Submitted(open_case, created=False, linked=True)
        patch = self.patches.owner_of(command.victim.address.postcode)
        subjects = new_subjects()
        victim_key = subjects[VICTIM]
        # The victim's key is written with the case's events, not committed on its own first.
        with self.sealer.personal.new_subject(victim_key) as key_row:
            case = Case(
                idempotency_scope=actor.agency,
                idempotency_key=command.idempotency_key,
                request_hash=request_hash,
                channel=command.channel.value,
                received_at=command.received_at,
                victim=self.sealer.seal_victim(victim_key, command.victim.model_dump(mode="json")),
                children_ages=[child.age for child in command.children],
                deadlines=disclosure_deadlines(
                    command.received_at, bool(command.children), self.calendar,
                    command.safe_contact.preferred_contact_at,
                ),
                details=self.sealer.seal_details(victim_key, command.details()),
                safe_contact=self.sealer.seal_safe_contact(victim_key, command.safe_contact.model_dump(mode="json")),
                owner={"cho": patch.cho, "area": patch.area},
                subjects=subjects,
                meta=meta,
            )
            if command.victim.tenant_ref:
                if index is None:
                    index = VictimIndex(tenant_ref=command.victim.tenant_ref, case_id=case.case_id)
                else:
                    index.set_open_case(case.case_id)
            self.save(case, index, rows=key_row)
        return Submitted(case, created=True)

    # ----- what other services tell us ------------------------------------------------------------

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if isinstance(event.payload, risk_events.RiskAssessed):
            case = unit.get(UUID(event.payload.case_id))
            if isinstance(case, Case):
                grade = enum_name(event.payload, "grade")
                case.note_risk_grade(grade=grade, assessment_id=event.payload.assessment_id, meta=unit.meta())
                unit.collect(case)
        elif isinstance(event.payload, (marac_events.ActionAgreed, marac_events.ActionCompleted)):
            housing_work_from_marac(event, unit)
        dacc_history.learn(event, unit)  # the DACC briefing's history (risk grades, work orders)

    # ----- the journey --------------------------------------------------------------------------

    def record_safe_contact(self, command: RecordSafeContact, actor: Actor) -> tuple[Case, bool]:
        self._not_in_future("at", command.at)
        return self._change(command.case_id, command.idempotency_key, lambda case: case.record_safe_contact(
            idempotency_key=command.idempotency_key, outcome=command.outcome.value, at=command.at,
            method=command.method, meta=self.meta(actor),
        ))

    def record_consent(self, command: RecordConsent, actor: Actor) -> tuple[Case, bool]:
        self._not_in_future("at", command.at)
        return self._change(command.case_id, command.idempotency_key, lambda case: case.record_consent(
            idempotency_key=command.idempotency_key, decision=command.decision.value,
            agencies=[a.strip() for a in command.agencies if a.strip()], at=command.at, meta=self.meta(actor),
        ))

    def record_note(self, command: RecordNote, actor: Actor) -> tuple[Case, bool]:
        return self._change(command.case_id, command.idempotency_key, lambda case: case.record_note(
            idempotency_key=command.idempotency_key, text=self._seal(case, command.text), meta=self.meta(actor),
        ))

    def record_immediate_safety(self, command: commands.RecordImmediateSafety, actor: Actor) -> tuple[Case, bool]:
        return self._change(command.case_id, command.idempotency_key, lambda case: case.record_immediate_safety(
            idempotency_key=command.idempotency_key, safe_to_return_home=command.safe_to_return_home,
            meta=self.meta(actor),
        ))

    def record_reported_elsewhere(self, command: commands.RecordReportedElsewhere, actor: Actor) -> tuple[Case, bool]:
        return self._change(command.case_id, command.idempotency_key, lambda case: case.record_reported_elsewhere(
            idempotency_key=command.idempotency_key, police_log_number=command.police_log_number,
            support_worker=self._seal(case, command.support_worker), consent_to_speak=command.consent_to_speak_to_them,
            meta=self.meta(actor),
        ))

    # ----- inputs to the referral pathways (issue #4) ---------------------------------------

    def record_rehousing_request(self, command: commands.RecordRehousingRequest, actor: Actor) -> tuple[Case, bool]:
        return self._referral_input(command, actor, "rehousing_requested", route=command.route.value,
                                    reason=_Sealed(command.reason))

    def record_perpetrator_willingness(
        self, command: commands.RecordPerpetratorWillingness, actor: Actor
    ) -> tuple[Case, bool]:
        return self._referral_input(command, actor, "perpetrator_willingness", willing=command.willing)

    def record_safeguarding_concern(self, command: commands.RecordSafeguardingConcern, actor: Actor) -> tuple[Case, bool]:
        return self._referral_input(command, actor, "safeguarding_concern", kind=command.kind.value,
                                    details=_Sealed(command.details))

    def record_marac_referral_details(
        self, command: commands.RecordMaracReferralDetails, actor: Actor
    ) -> tuple[Case, bool]:
        form = command.model_dump(mode="json", exclude={"case_id", "idempotency_key"})
        return self._referral_input(command, actor, "marac_referral_details", form=_SealedForm(form))

    def _referral_input(
        self, command: commands.RecordRehousingRequest | commands.RecordPerpetratorWillingness
        | commands.RecordSafeguardingConcern | commands.RecordMaracReferralDetails,
        actor: Actor, which: str, **fields: object,
    ) -> tuple[Case, bool]:
        key = command.idempotency_key
        return self._change(command.case_id, key, lambda case: case.record_referral_input(
            which, idempotency_key=key, meta=self.meta(actor),
            **{name: self._seal_marked(case, value) for name, value in fields.items()},
        ))

    def request_legal_advice(self, command: commands.ReasonedCommand, actor: Actor) -> tuple[Case, bool]:
        return self._change(command.case_id, command.idempotency_key, lambda case: case.request_legal_advice(
            idempotency_key=command.idempotency_key, reason=self._seal(case, command.reason), meta=self.meta(actor),
        ))

    def flag_possible_perpetrator(self, command: commands.ReasonedCommand, actor: Actor) -> tuple[Case, bool]:
        return self._change(command.case_id, command.idempotency_key, lambda case: case.flag_possible_perpetrator(
            idempotency_key=command.idempotency_key, reason=self._seal(case, command.reason), meta=self.meta(actor),
        ))

    def correct_details(self, command: commands.CorrectDetails, actor: Actor) -> tuple[Case, bool]:
        patch = self.patches.owner_of(command.victim.address.postcode)
        return self._change(command.case_id, command.idempotency_key, lambda case: case.correct_details(
            idempotency_key=command.idempotency_key,
            victim=self._sealed_victim(case, command.victim.model_dump(mode="json")),
            reason=self._seal(case, command.reason), owner={"cho": patch.cho, "area": patch.area}, meta=self.meta(actor),
        ))

    @retry_on_conflict
    def close_case(self, command: ChangeStatus, actor: Actor) -> tuple[Case, bool]:
        case = self.get_case(parse_uuid(command.case_id, "case_id"))
        before = case.version
        case.close(reason=command.reason, meta=self.meta(actor))
        index = self._victim_index(case.victim.get("tenant_ref", ""))
        if index is not None and index.open_case_id == case.case_id:
            index.set_open_case(None)
        self.save(case, index)
        return case, case.version != before

    @retry_on_conflict
    def reopen_case(self, command: ChangeStatus, actor: Actor) -> tuple[Case, bool]:
        case = self.get_case(parse_uuid(command.case_id, "case_id"))
        before = case.version
        case.reopen(reason=command.reason, meta=self.meta(actor))
        index = self._victim_index(case.victim.get("tenant_ref", ""))
        if index is not None and index.open_case_id is None:
            index.set_open_case(case.case_id)
        self.save(case, index)
        return case, case.version != before

    @retry_on_conflict
    def _change(self, case_id: str, key: str, apply: Callable[[Case], None]) -> tuple[Case, bool]:
        case = self.get_case(parse_uuid(case_id, "case_id"))
        if case.has_applied(key):
            return case, False
        try:
            apply(case)
        except CaseClosedError as exc:
            raise PreconditionFailed(f"{exc}: reopen it first") from None
        except SubjectKeyErased:
            raise PreconditionFailed("the victim's personal data on this case has been erased") from None
        self.save(case)
        return case, True

    # ----- personal data, sealed with the subject's key (ADR 0022) ---------------------------------

    def _seal(self, case: Case, value: str) -> str:
        subject_id = case.subject_id(VICTIM)
        return (self.sealer.seal(subject_id, value) or "") if subject_id else value

    def _seal_marked(self, case: Case, value: object) -> object:
        if isinstance(value, _SealedForm):
            subject_id = case.subject_id(VICTIM)
            return self.sealer.seal_form(subject_id, value.form) if subject_id else value.form
        return self._seal(case, value.text) if isinstance(value, _Sealed) else value

    def _sealed_victim(self, case: Case, victim: dict) -> dict:
        subject_id = case.subject_id(VICTIM)
        return self.sealer.seal_victim(subject_id, victim) if subject_id else victim

    def _sealed_details(self, case: Case, details: dict) -> dict:
        subject_id = case.subject_id(VICTIM)
        if not subject_id:
            return details
        try:
            return self.sealer.seal_details(subject_id, details)
        except SubjectKeyErased:
            raise PreconditionFailed("the victim's personal data on the open case has been erased") from None

    @retry_on_conflict
    def erase_subject(self, command: commands.EraseSubject, actor: Actor) -> tuple[Case, bool]:
        """Destroy the subject's key, then record `SubjectErased` (published, so every service erases
        its copies). The key goes first: a crash between the two leaves a retry that records it."""
        erasure.require_housing_manager(actor)
        case = self.get_case(parse_uuid(command.case_id, "case_id"))
        subject = command.subject.value
        subject_id = case.subject_id(subject)
        if not subject_id:
            raise PreconditionFailed("the case was recorded before per-subject keys: it cannot be crypto-shredded")
        if case.is_erased(subject):
            return case, False
        self.sealer.erase(subject_id)
        self._erase_dacc_parties(case, subject)
        case.record_erasure(idempotency_key=command.idempotency_key, subject=subject, reason=command.reason,
                            erased_at=process_clock().now(), meta=self.meta(actor))
        self.save(case)
        return case, True

    def _not_in_future(self, field: str, instant: datetime) -> None:
        if (instant - process_clock().now()).total_seconds() > 300:
            raise InvalidArgument.one(field, "is in the future")

    def _erase_dacc_parties(self, case: Case, role: str) -> None:
        """The same person as named by the police: that role's parties of every DACC incident
        matched to the case (found through the tenancy's file, ADR 0022)."""
        tenant_ref = case.victim.get("tenant_ref", "")
        file = self._find(TenancyFile.create_id(tenant_ref)) if tenant_ref else None
        if not isinstance(file, TenancyFile):
            return
        for incident_id, noted in file.dacc_incidents.items():
            incident = self._find(UUID(incident_id)) if noted.get("case_id") == case.case_id else None
            if isinstance(incident, DaccIncident) and incident.subject_id(role):
                self.sealer.erase(incident.subject_id(role))

    # ----- queries --------------------------------------------------------------------------------

    def get_case(self, case_id: UUID) -> Case:
        case = self._find(case_id)
        if not isinstance(case, Case):
            raise NotFound("case", str(case_id))
        return case

    def owner_of(self, case_id: str) -> str | None:
        """The CHO who owns the case (need-to-know: a CHO sees their own patch), or None."""
        try:
            return self.get_case(UUID(case_id)).owner.get("cho") or None
        except (NotFound, ValueError):
            return None

    def get_case_overdue(self, case_id: str) -> list[str]:
        return self.get_case(parse_uuid(case_id, "case_id")).overdue(process_clock().now())

    def list_cases(
        self, owner_cho: str = "", status: str = "", overdue_only: bool = False, risk_grade: str = "",
        after: str | None = None, limit: int | None = None,
    ) -> list[CaseRow]:
        """From the case list's rows (ADR 0029): one indexed query, whatever the store's size; in
        case id order, after `after` and at most `limit` when given (a page)."""
        return self.case_list.query(owner_cho, status, overdue_only, risk_grade, process_clock().now(), after, limit)

    def rows_with(self, aggregates: Iterable[Any]) -> Rows:
        return self.case_list.rows_for(aggregates)

    def _fill_case_list(self) -> None:
        """Cases recorded before the case list existed get their rows once, at start."""
        if not self.case_list.is_empty():
            return
        sql = Sql(self)
        rows = sql.query(
            f"SELECT originator_id FROM {sql.events_table} WHERE topic = ? ORDER BY originator_id",
            ["intake.domain.case:Case.DisclosureReceived"],
        )
        if rows:
            self.case_list.fill(self.get_case(UUID(str(row[0]))) for row in rows)

    def cases_of_tenant(self, tenant_ref: str) -> list[Case]:
        """Every case a tenant has had, open or closed, oldest first: read from the history of
        their `VictimIndex` (each case it ever pointed at), not by scanning every case."""
        if not tenant_ref:
            return []
        case_ids: list[str] = []
        for stored in self.events.get(VictimIndex.create_id(tenant_ref)):
            case_id = getattr(stored, "case_id", None)
            if case_id and case_id not in case_ids:
                case_ids.append(case_id)
        return [self.get_case(UUID(case_id)) for case_id in case_ids]

    def _victim_index(self, tenant_ref: str) -> VictimIndex | None:
        if not tenant_ref:
            return None
        found = self._find(VictimIndex.create_id(tenant_ref))
        return found if isinstance(found, VictimIndex) else None

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


# MARAC actions the landlord owns that are housing work on the case itself (issue #5); target
# hardening becomes a work order in repairs and rehousing a referral, each in its own service.
HOUSING_ACTIONS = {"CONFIRM_TENANCY_STATUS", "CHECK_ASB_HISTORY", "TENANCY_ADVICE"}


def housing_work_from_marac(event: IncomingEvent, unit: Unit) -> None:
    payload = event.payload
    case = unit.get(UUID(payload.case_id)) if payload.case_id else None
    if not isinstance(case, Case):
        return
    if isinstance(payload, marac_events.ActionAgreed):
        kind = enum_name(payload, "kind")
        if payload.landlord_owned and kind in HOUSING_ACTIONS:
            case.assign_landlord_action(
                action_id=payload.action_id, kind=kind, due_date=payload.deadline.due_date, meta=unit.meta()
            )
    else:
        case.complete_landlord_action(action_id=payload.action_id, meta=unit.meta())
    unit.collect(case)


@dataclass(frozen=True)
class _Sealed:
    """A free-text field to seal with the case's victim key once the case is loaded."""

    text: str


@dataclass(frozen=True)
class _SealedForm:
    form: dict
