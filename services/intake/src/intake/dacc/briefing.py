"""The ASB advisor's briefing before the call (seed 000): for each tenant matched on a DACC date,
the history to check — earlier disclosures and risk grades, welfare visits, target hardening and
repairs, ASB reports, tenancy issues, interventions offered before. Read from events: the tenant's
cases' own streams, and the tenancy file the policy keeps from risk and repairs events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from intake.dacc.aggregates import MATCHED, DaccIncident, TenancyFile
from intake.dacc.desk import DaccDesk
from intake.domain.case import Case


@dataclass
class TenantBriefing:
    tenant_ref: str
    address: dict[str, str]
    joint_tenancy: bool
    incidents: list[DaccIncident] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    risk_grades: list[dict[str, Any]] = field(default_factory=list)
    welfare_visits: list[dict[str, Any]] = field(default_factory=list)
    work_orders: list[dict[str, Any]] = field(default_factory=list)
    asb_reports: list[dict[str, Any]] = field(default_factory=list)
    tenancy_issues: list[dict[str, Any]] = field(default_factory=list)
    dacc_outcomes: list[dict[str, Any]] = field(default_factory=list)


def briefing(desk: DaccDesk, dacc_date: str) -> tuple[list[TenantBriefing], int]:
    """(one briefing per matched tenant, in order of first incident; the number left unmatched)."""
    incidents = desk.incidents_of(dacc_date)
    tenants: dict[str, TenantBriefing] = {}
    for incident in (i for i in incidents if i.status == MATCHED):
        if incident.tenant_ref not in tenants:
            tenants[incident.tenant_ref] = _tenant(desk, incident.tenant_ref)
        tenants[incident.tenant_ref].incidents.append(incident)
    if tenants:
        _add_disclosures(desk, tenants)
    unmatched = sum(1 for i in incidents if i.status != MATCHED)
    return list(tenants.values()), unmatched


def _tenant(desk: DaccDesk, tenant_ref: str) -> TenantBriefing:
    tenancy = desk.register.by_ref(tenant_ref)
    brief = TenantBriefing(
        tenant_ref=tenant_ref,
        address=tenancy.address() if tenancy else {},
        joint_tenancy=bool(tenancy and tenancy.joint_tenancy),
    )
    file = desk._get(TenancyFile.create_id(tenant_ref))
    if not isinstance(file, TenancyFile):
        return brief
    brief.risk_grades = sorted(
        [{"assessment_id": k, **v} for k, v in file.risk_grades.items()]
        + [{"case_id": v["case_id"], "grade": v["risk_grade"], "source": "POLICE_DACC", "at": v["received_at"]}
           for v in file.dacc_incidents.values()],
        key=lambda r: r["at"],
    )
    brief.work_orders = sorted(({"work_order_id": k, **v} for k, v in file.work_orders.items()), key=lambda w: w["raised_at"])
    brief.welfare_visits = sorted(({"task_id": k, **v} for k, v in file.welfare_visits.items()), key=lambda w: w["requested_at"])
    brief.asb_reports = sorted(({"report_id": k, **v} for k, v in file.asb_reports.items()), key=lambda r: r["reported_on"])
    brief.tenancy_issues = sorted(({"issue_id": k, **v} for k, v in file.tenancy_issues.items()), key=lambda r: r["noted_on"])
    for incident_id, noted in file.dacc_incidents.items():
        incident = desk._get(UUID(incident_id))
        for outcome in getattr(incident, "outcomes", {}).values():
            brief.dacc_outcomes.append({"outcome_id": outcome["outcome_id"], "case_id": noted["case_id"],
                                        "date": noted["dacc_date"], "interventions": outcome["interventions"]})
    return brief


def _add_disclosures(desk: DaccDesk, tenants: dict[str, TenantBriefing]) -> None:
    """Every disclosure on each tenant's cases, from the cases' own events; the tenant's cases
    are found through their victim index's history, so a briefing costs what the tenants on it
    have, not what the whole register has."""
    for tenant_ref, brief in tenants.items():
        for case in desk.app.cases_of_tenant(tenant_ref):
            for stored in desk.app.events.get(case.id):
                if isinstance(stored, Case.DisclosureReceived | Case.FurtherDisclosureReceived):
                    brief.disclosures.append({"case_id": case.case_id, "channel": stored.channel,
                                              "received_at": stored.received_at, "case_status": case.status})
        brief.disclosures.sort(key=lambda d: d["received_at"])
