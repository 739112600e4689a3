"""DACC aggregates: the incident the police shared, the day's list of incidents, and the
tenancy file the ASB advisor's briefing is read from. The incident's addresses and parties live
here, in intake's store only (never on Kafka)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id

RECEIVED, MATCHED, UNMATCHED = "RECEIVED", "MATCHED", "UNMATCHED"


def incident_id_for(police_agency: str, incident_ref: str) -> UUID:
    """Idempotency by incident reference, within the force that sent it."""
    return stable_id("intake", "dacc-incident", police_agency.strip().lower(), incident_ref.strip().upper())


class DaccIncident(CaseAggregate):
    @staticmethod
    def create_id(police_agency: str, incident_ref: str, **_: Any) -> UUID:
        return incident_id_for(police_agency, incident_ref)

    @event("DaccIncidentReceived")
    def __init__(
        self, *, police_agency: str, incident_ref: str, dacc_date: str, occurred_at: datetime | None,
        received_at: datetime, addresses: list[dict[str, Any]], parties: list[dict[str, Any]],
        risk_grade: str, consent_to_share: bool, meta: dict[str, Any],
        subjects: dict[str, str] | None = None,
    ) -> None:
        # Parties and addresses are sealed per role (ADR 0022); incidents received before, in clear.
        self.subjects = dict(subjects or {})
        self.police_agency = police_agency
        self.incident_ref = incident_ref
        self.dacc_date = dacc_date
        self.occurred_at = occurred_at
        self.received_at = received_at
        self.addresses = list(addresses)
        self.parties = list(parties)
        self.risk_grade = risk_grade
        self.consent_to_share = consent_to_share
        self.status = RECEIVED
        self.case_id = ""
        self.tenant_ref = ""
        self.matched_on = ""
        self.linked_to_open_case = False
        self.joint_tenancy = False
        self.unmatched_reason = ""
        self.outcomes: dict[str, dict[str, Any]] = {}

    @property
    def incident_id(self) -> str:
        return str(self.id)

    def subject_id(self, role: str) -> str:
        return getattr(self, "subjects", {}).get(role, "")

    @event("DaccIncidentMatched")
    def matched(self, *, case_id: str, tenant_ref: str, matched_on: str, linked_to_open_case: bool,
                joint_tenancy: bool, dacc_date: str, risk_grade: str, consent_to_share: bool,
                meta: dict[str, Any]) -> None:
        # dacc_date, risk_grade and consent repeat the incident's: the published event stands alone.
        self.status = MATCHED
        self.case_id = case_id
        self.tenant_ref = tenant_ref
        self.matched_on = matched_on
        self.linked_to_open_case = linked_to_open_case
        self.joint_tenancy = joint_tenancy

    @event("DaccIncidentUnmatched")
    def unmatched(self, *, reason: str, meta: dict[str, Any]) -> None:
        self.status = UNMATCHED
        self.unmatched_reason = reason

    @event("DaccOutcomeRecorded")
    def record_outcome(
        self, *, outcome_id: str, case_id: str, dacc_date: str, shared: list[dict[str, str]],
        interventions: list[str], measures: list[str], signposted_to: str, welfare_visit_task_id: str,
        joint_tenancy: bool, request_hash: str, meta: dict[str, Any],
    ) -> None:
        self.outcomes[outcome_id] = {
            "outcome_id": outcome_id, "interventions": list(interventions), "measures": list(measures),
            "shared": list(shared), "signposted_to": signposted_to, "request_hash": request_hash,
            "welfare_visit_task_id": welfare_visit_task_id,
        }


class DaccDay(CaseAggregate):
    """The incidents shared for one DACC date, in the order they arrived."""

    @staticmethod
    def create_id(dacc_date: str, **_: Any) -> UUID:
        return stable_id("intake", "dacc-day", dacc_date)

    @event("DaccDayOpened")
    def __init__(self, *, dacc_date: str) -> None:
        self.incident_ids: list[str] = []

    @event("DaccIncidentFiled")
    def file(self, *, incident_id: str) -> None:
        self.incident_ids.append(incident_id)


class TenancyFile(CaseAggregate):
    """A tenancy's history for the DACC briefing: what intake learns from risk and repairs
    events about the tenant's cases, and what landlord staff record (ASB reports, tenancy issues,
    welfare visits). Each entry is keyed, so a replayed fact is recorded once."""

    @staticmethod
    def create_id(tenant_ref: str, **_: Any) -> UUID:
        return stable_id("intake", "tenancy-file", tenant_ref.strip().upper())

    @event("TenancyFileOpened")
    def __init__(self, *, tenant_ref: str) -> None:
        self.tenant_ref = tenant_ref
        self.risk_grades: dict[str, dict[str, Any]] = {}
        self.work_orders: dict[str, dict[str, Any]] = {}
        self.asb_reports: dict[str, dict[str, Any]] = {}
        self.tenancy_issues: dict[str, dict[str, Any]] = {}
        self.welfare_visits: dict[str, dict[str, Any]] = {}
        self.dacc_incidents: dict[str, dict[str, Any]] = {}

    def knows(self, kind: str, key: str) -> bool:
        return key in getattr(self, kind)

    @event("RiskGradeLearned")
    def learn_risk_grade(self, *, assessment_id: str, case_id: str, grade: str, source: str, at: datetime) -> None:
        self.risk_grades[assessment_id] = {"case_id": case_id, "grade": grade, "source": source, "at": at}

    @event("WorkOrderLearned")
    def learn_work_order(self, *, work_order_id: str, case_id: str, measures: list[str], priority: str,
                         source: str, raised_at: datetime) -> None:
        self.work_orders[work_order_id] = {
            "case_id": case_id, "measures": list(measures), "priority": priority, "source": source,
            "raised_at": raised_at, "status": "RAISED",
        }

    @event("WorkOrderStatusLearned")
    def learn_work_order_status(self, *, work_order_id: str, status: str) -> None:
        if work_order_id in self.work_orders:
            self.work_orders[work_order_id]["status"] = status

    @event("DaccIncidentNoted")
    def note_dacc_incident(self, *, incident_id: str, case_id: str, dacc_date: str, risk_grade: str,
                           received_at: datetime) -> None:
        self.dacc_incidents[incident_id] = {
            "case_id": case_id, "dacc_date": dacc_date, "risk_grade": risk_grade, "received_at": received_at,
        }

    @event("AsbReportRecorded")
    def record_asb_report(self, *, report_id: str, role: str, category: str, reported_on: str, summary: str,
                          meta: dict[str, Any]) -> None:
        self.asb_reports[report_id] = {"role": role, "category": category, "reported_on": reported_on, "summary": summary}

    @event("TenancyIssueRecorded")
    def record_tenancy_issue(self, *, issue_id: str, kind: str, noted_on: str, summary: str,
                             meta: dict[str, Any]) -> None:
        self.tenancy_issues[issue_id] = {"kind": kind, "noted_on": noted_on, "summary": summary}

    @event("WelfareVisitRequested")
    def request_welfare_visit(self, *, task_id: str, case_id: str, requested_at: datetime, due_date: str,
                              meta: dict[str, Any]) -> None:
        self.welfare_visits[task_id] = {
            "case_id": case_id, "requested_at": requested_at, "due_date": due_date, "visited_at": None,
        }

    @event("WelfareVisitMade")
    def record_welfare_visit(self, *, task_id: str, visited_at: datetime, meta: dict[str, Any]) -> None:
        self.welfare_visits[task_id]["visited_at"] = visited_at
