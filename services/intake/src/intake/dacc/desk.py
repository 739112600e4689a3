"""DaccDesk: the DACC feed's commands and queries, over intake's store. A matched incident goes
through intake's own disclosure journey (channel POLICE_DACC), so deadlines, patch ownership and
linking to an open case work as for any other disclosure."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from caseplatform.clock import process_clock
from caseplatform.errors import Conflict, InvalidArgument, NotFound, PreconditionFailed
from caseplatform.identity import Actor
from caseplatform.ids import parse_uuid, stable_id
from caseplatform.validation import parse_command
from intake.application import IntakeApplication
from intake.commands import SubmitDisclosure
from intake.dacc import access, commands
from intake.dacc.aggregates import MATCHED, RECEIVED, UNMATCHED, DaccDay, DaccIncident, TenancyFile
from intake.dacc.matching import Match, match_incident, unmatched_reason
from intake.dacc.register import TenancyRegister
from intake.sealing import OTHER_PARTY, PERPETRATOR, VICTIM, new_subjects

DUPLICATE = "DUPLICATE"


@dataclass(frozen=True)
class IncidentResult:
    incident: DaccIncident
    outcome: str  # MATCHED, UNMATCHED (both new) or DUPLICATE


@dataclass(frozen=True)
class OutcomeResult:
    outcome_id: str
    case_id: str
    created: bool
    welfare_visit_task_id: str


class DaccDesk:
    def __init__(self, app: IntakeApplication, register: TenancyRegister) -> None:
        self.app = app
        self.register = register

    # ----- the police share ----------------------------------------------------------------------

    def submit_incidents(self, command: commands.SubmitIncidents, actor: Actor) -> list[IncidentResult]:
        access.require_police(actor)
        if violations := command.violations():
            raise InvalidArgument(violations)
        return [self._submit_one(incident, actor) for incident in command.incidents]

    def _submit_one(self, sent: commands.Incident, actor: Actor) -> IncidentResult:
        incident_id = DaccIncident.create_id(actor.agency, sent.incident_ref)
        incident = self._get(incident_id)
        if incident is None:
            incident = self._receive(sent, actor)
        if incident.status != RECEIVED:
            return IncidentResult(incident, DUPLICATE)
        # New, or received before a crash stopped its matching: match it now.
        matched = self._match(incident, actor)
        return IncidentResult(matched, matched.status)

    def _receive(self, sent: commands.Incident, actor: Actor) -> DaccIncident:
        incident_id = DaccIncident.create_id(actor.agency, sent.incident_ref)

        def received() -> list[Any]:
            if self._get(incident_id) is not None:  # the same incident sent concurrently: that one won
                return []
            subjects = new_subjects((VICTIM, PERPETRATOR, OTHER_PARTY))
            seal = self.app.sealer
            incident = DaccIncident(
                police_agency=actor.agency, incident_ref=sent.incident_ref, dacc_date=sent.date.isoformat(),
                occurred_at=sent.occurred_at, received_at=process_clock().now(),
                # The scene is mostly the victim's home: sealed with the victim's key.
                addresses=[seal.seal_address(subjects[VICTIM], a.model_dump(mode="json")) for a in sent.addresses],
                parties=[seal.seal_party(subjects[p.role.value], p.model_dump(mode="json")) for p in sent.parties],
                subjects=subjects,
                risk_grade=sent.risk_grade.value, consent_to_share=sent.consent_to_share, meta=self.app.meta(actor),
            )
            day = self._get(DaccDay.create_id(incident.dacc_date)) or DaccDay(dacc_date=incident.dacc_date)
            day.file(incident_id=incident.incident_id)
            return [incident, day]

        self._save_retrying(received)
        found = self._get(incident_id)
        assert found is not None
        return found

    def _match(self, incident: DaccIncident, actor: Actor) -> DaccIncident:
        addresses, parties = self.opened(incident)
        match = match_incident(addresses, parties, self.register)
        if match is None:
            incident.unmatched(reason=unmatched_reason(parties), meta=self.app.meta(actor))
            self.app.save(incident)
            return incident
        submitted = self.app.submit_disclosure(self._disclosure(incident, parties, match), actor)
        case_id = submitted.case.case_id

        def matched() -> list[Any]:
            fresh = self._get(incident.id)
            assert fresh is not None
            fresh.matched(
                case_id=case_id, tenant_ref=match.tenancy.tenant_ref, matched_on=match.matched_on,
                linked_to_open_case=submitted.linked, joint_tenancy=match.tenancy.joint_tenancy,
                dacc_date=fresh.dacc_date, risk_grade=fresh.risk_grade, consent_to_share=fresh.consent_to_share,
                meta=self.app.meta(actor),
            )
            file = self._tenancy_file(match.tenancy.tenant_ref)
            file.note_dacc_incident(incident_id=fresh.incident_id, case_id=case_id, dacc_date=fresh.dacc_date,
                                    risk_grade=fresh.risk_grade, received_at=fresh.received_at)
            return [fresh, file]

        saved = self._save_retrying(matched)
        return saved[0]

    def opened(self, incident: DaccIncident) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The incident's addresses and parties, opened ("[erased]" for an erased subject)."""
        seal = self.app.sealer
        return ([seal.open_address(a) or {} for a in incident.addresses], [seal.open_party(p) for p in incident.parties])

    def _disclosure(self, incident: DaccIncident, parties: list[dict[str, Any]], match: Match) -> SubmitDisclosure:
        """The disclosure intake's journey records: the victim at the tenancy's address (the CHO is
        found from it), received when the police share reached us (deadlines run from here)."""
        victim = match.victim
        lives_with = any(
            p["role"] == "PERPETRATOR" and self.register.by_address(
                (p.get("home_address") or {}).get("line1", ""), (p.get("home_address") or {}).get("postcode", "")
            ) == match.tenancy
            for p in parties
        )
        return parse_command(SubmitDisclosure, {
            "idempotency_key": f"dacc:{incident.incident_ref.upper()}",
            "received_at": incident.received_at.isoformat(),
            "channel": "POLICE_DACC",
            "victim": {
                "tenant_ref": match.tenancy.tenant_ref,
                "name": victim.get("name") or "not given by the police",
                "address": match.tenancy.address(),
                "date_of_birth": victim.get("date_of_birth"),
            },
            "perpetrator": {"lives_with_victim": lives_with},
            "police_log_number": incident.incident_ref,
        })

    def unmatched(self, dacc_date: str, actor: Actor) -> list[DaccIncident]:
        """Unmatched incidents of the date: the ASB advisor sees all; a force sees its own."""
        if not (access.is_police(actor) or access.is_asb_advisor(actor)):
            access.require_asb_advisor(actor)
        incidents = [i for i in self.incidents_of(dacc_date) if i.status == UNMATCHED]
        return [i for i in incidents if not access.is_police(actor) or i.police_agency == actor.agency]

    def incidents_of(self, dacc_date: str) -> list[DaccIncident]:
        day = self._get(DaccDay.create_id(dacc_date))
        return [self.app.repository.get(UUID(i)) for i in day.incident_ids] if day else []

    # ----- the call's outcome ----------------------------------------------------------------------

    def record_outcome(self, command: commands.RecordDaccOutcome, actor: Actor) -> OutcomeResult:
        access.require_asb_advisor(actor)
        if violations := command.violations():
            raise InvalidArgument(violations)
        incident = self._get(parse_uuid(command.incident_id, "incident_id"))
        if not isinstance(incident, DaccIncident):
            raise NotFound("DACC incident", command.incident_id)
        if incident.status != MATCHED:
            raise PreconditionFailed("the incident matched no tenancy: there is no case to record an outcome on")
        outcome_id = str(stable_id("intake", "dacc-outcome", incident.incident_id, actor.agency, command.idempotency_key))
        request_hash = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        seen = incident.outcomes.get(outcome_id)
        if seen is not None:
            if seen["request_hash"] != request_hash:
                raise Conflict("idempotency_key was already used for a different outcome")
            return OutcomeResult(outcome_id, incident.case_id, False, seen["welfare_visit_task_id"])
        welfare = commands.Intervention.WELFARE_CHECK in command.interventions
        task_id = str(stable_id("intake", "welfare-visit", outcome_id)) if welfare else ""
        meta = self.app.meta(actor)

        def recorded() -> list[Any]:
            fresh = self._get(incident.id)
            if outcome_id in fresh.outcomes:  # the same request, concurrently: recorded once
                return []
            fresh.record_outcome(
                outcome_id=outcome_id, case_id=fresh.case_id, dacc_date=fresh.dacc_date,
                shared=[s.model_dump() for s in command.shared], interventions=[i.value for i in command.interventions],
                measures=list(command.target_hardening_measures), signposted_to=command.signposted_to,
                welfare_visit_task_id=task_id, joint_tenancy=fresh.joint_tenancy, request_hash=request_hash, meta=meta,
            )
            if not welfare:
                return [fresh]
            file = self._tenancy_file(fresh.tenant_ref)
            due = command.welfare_check_due_date.isoformat() if command.welfare_check_due_date else ""
            file.request_welfare_visit(task_id=task_id, case_id=fresh.case_id, requested_at=process_clock().now(),
                                       due_date=due, meta=meta)
            return [fresh, file]

        self._save_retrying(recorded)
        return OutcomeResult(outcome_id, incident.case_id, True, task_id)

    # ----- tenancy records the briefing draws on ---------------------------------------------------

    def record_asb_report(self, command: commands.RecordAsbReport, actor: Actor) -> tuple[str, str, bool]:
        access.require_landlord(actor)
        tenancy = self._tenancy(command.tenant_ref)
        report_id = str(stable_id("intake", "asb-report", tenancy.tenant_ref, actor.agency, command.idempotency_key))
        return self._record(tenancy.tenant_ref, "asb_reports", report_id, lambda f: f.record_asb_report(
            report_id=report_id, role=command.role.value, category=command.category,
            reported_on=command.reported_on.isoformat(), summary=command.summary, meta=self.app.meta(actor),
        ))

    def record_tenancy_issue(self, command: commands.RecordTenancyIssue, actor: Actor) -> tuple[str, str, bool]:
        access.require_landlord(actor)
        tenancy = self._tenancy(command.tenant_ref)
        issue_id = str(stable_id("intake", "tenancy-issue", tenancy.tenant_ref, actor.agency, command.idempotency_key))
        return self._record(tenancy.tenant_ref, "tenancy_issues", issue_id, lambda f: f.record_tenancy_issue(
            issue_id=issue_id, kind=command.kind.value, noted_on=command.noted_on.isoformat(),
            summary=command.summary, meta=self.app.meta(actor),
        ))

    def record_welfare_visit(self, command: commands.RecordWelfareVisit, actor: Actor) -> tuple[str, str, bool]:
        access.require_landlord(actor)
        tenancy = self._tenancy(command.tenant_ref)
        file = self._get(TenancyFile.create_id(tenancy.tenant_ref))
        if file is None or command.task_id not in file.welfare_visits:
            raise NotFound("welfare visit task", command.task_id)
        if file.welfare_visits[command.task_id]["visited_at"] is not None:
            return tenancy.tenant_ref, command.task_id, False
        file.record_welfare_visit(task_id=command.task_id, visited_at=command.visited_at, meta=self.app.meta(actor))
        self.app.save(file)
        return tenancy.tenant_ref, command.task_id, True

    def _record(self, tenant_ref: str, kind: str, key: str, apply: Callable[[TenancyFile], None]) -> tuple[str, str, bool]:
        created = True

        def build() -> list[Any]:
            nonlocal created
            file = self._tenancy_file(tenant_ref)
            created = not file.knows(kind, key)
            if created:
                apply(file)
            return [file]

        self._save_retrying(build)
        return tenant_ref, key, created

    # ----- helpers ---------------------------------------------------------------------------------

    def _tenancy(self, tenant_ref: str) -> Any:
        tenancy = self.register.by_ref(tenant_ref)
        if tenancy is None:
            raise NotFound("tenancy", tenant_ref)
        return tenancy

    def _tenancy_file(self, tenant_ref: str) -> TenancyFile:
        return self._get(TenancyFile.create_id(tenant_ref)) or TenancyFile(tenant_ref=tenant_ref)

    def _save_retrying(self, build: Callable[[], list[Any]]) -> list[Any]:
        """Save what `build` makes from fresh reads; a concurrent writer (a policy, another request)
        makes the store refuse a version: read again and redo."""
        for attempt in range(5):
            aggregates = build()
            try:
                self.app.save(*aggregates)
                return aggregates
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
