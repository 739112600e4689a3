"""police.v1.DaccFeed, served by the intake process: proto → command → DaccDesk → proto."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from caseplatform.envelope import to_timestamp
from caseplatform.errors import InvalidArgument
from caseplatform.identity import require_actor
from caseplatform.validation import parse_command, proto_to_dict
from casework.intake.v1 import intake_pb2
from casework.police.v1 import dacc_pb2, dacc_pb2_grpc
from casework.repairs.v1 import repairs_pb2
from intake.dacc import access, commands
from intake.dacc.aggregates import DaccIncident
from intake.dacc.briefing import TenantBriefing, briefing
from intake.dacc.desk import DaccDesk


def _date(value: str) -> str:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise InvalidArgument.one("date", "must be an ISO 8601 date (YYYY-MM-DD)") from None


class DaccFeedServicer(dacc_pb2_grpc.DaccFeedServicer):
    def __init__(self, desk: DaccDesk) -> None:
        self._desk = desk

    async def SubmitIncidents(self, request, context):
        actor = require_actor()
        access.require_police(actor)  # before reading the batch: a wrong caller learns nothing of it
        command = parse_command(commands.SubmitIncidents, proto_to_dict(request))
        results = await asyncio.to_thread(self._desk.submit_incidents, command, actor)
        response = dacc_pb2.SubmitIncidentsResponse(results=[
            dacc_pb2.IncidentResult(
                incident_ref=r.incident.incident_ref, incident_id=r.incident.incident_id,
                outcome=dacc_pb2.IncidentOutcome.Value(r.outcome if r.outcome == "DUPLICATE" else r.incident.status),
                case_id=r.incident.case_id, linked_to_open_case=r.incident.linked_to_open_case,
                matched_on=_matched_on(r.incident),
            )
            for r in results
        ])
        response.new_matched = sum(1 for r in response.results if r.outcome == dacc_pb2.MATCHED)
        response.new_unmatched = sum(1 for r in response.results if r.outcome == dacc_pb2.UNMATCHED)
        response.duplicates = sum(1 for r in response.results if r.outcome == dacc_pb2.DUPLICATE)
        return response

    async def ListUnmatchedIncidents(self, request, context):
        incidents = await asyncio.to_thread(self._desk.unmatched, _date(request.date), require_actor())
        opened = await asyncio.to_thread(lambda: [(i, *self._desk.opened(i)) for i in incidents])
        return dacc_pb2.ListUnmatchedIncidentsResponse(incidents=[
            dacc_pb2.UnmatchedIncident(
                incident_id=i.incident_id, incident_ref=i.incident_ref, police_agency=i.police_agency,
                risk_grade=dacc_pb2.PoliceRiskGrade.Value(i.risk_grade), consent_to_share=i.consent_to_share,
                addresses=[dacc_pb2.Address(**a) for a in addresses], parties=[_party(p) for p in parties],
                received_at=to_timestamp(i.received_at), reason=i.unmatched_reason,
            )
            for i, addresses, parties in opened
        ])

    async def GetDaccBriefing(self, request, context):
        access.require_asb_advisor(require_actor())
        day = _date(request.date)
        tenants, unmatched = await asyncio.to_thread(briefing, self._desk, day)
        return dacc_pb2.GetDaccBriefingResponse(
            date=day, tenants=[_tenant(t) for t in tenants], unmatched_incidents=unmatched
        )

    async def RecordDaccOutcome(self, request, context):
        command = parse_command(commands.RecordDaccOutcome, proto_to_dict(request))
        result = await asyncio.to_thread(self._desk.record_outcome, command, require_actor())
        return dacc_pb2.RecordDaccOutcomeResponse(
            outcome_id=result.outcome_id, case_id=result.case_id, created=result.created,
            welfare_visit_task_id=result.welfare_visit_task_id,
        )

    async def RecordAsbReport(self, request, context):
        return await self._tenancy_record(commands.RecordAsbReport, request, self._desk.record_asb_report)

    async def RecordTenancyIssue(self, request, context):
        return await self._tenancy_record(commands.RecordTenancyIssue, request, self._desk.record_tenancy_issue)

    async def RecordWelfareVisit(self, request, context):
        return await self._tenancy_record(commands.RecordWelfareVisit, request, self._desk.record_welfare_visit)

    async def _tenancy_record(self, model: type, request: Any, apply: Any) -> dacc_pb2.TenancyRecordResponse:
        command = parse_command(model, proto_to_dict(request))
        tenant_ref, record_id, created = await asyncio.to_thread(apply, command, require_actor())
        return dacc_pb2.TenancyRecordResponse(tenant_ref=tenant_ref, record_id=record_id, created=created)


def _matched_on(incident: DaccIncident) -> int:
    return dacc_pb2.MatchedOn.Value(incident.matched_on) if incident.matched_on else 0


def _party(p: dict[str, Any]) -> dacc_pb2.Party:
    return dacc_pb2.Party(
        role=dacc_pb2.PartyRole.Value(p["role"]), name=p.get("name", ""), date_of_birth=p.get("date_of_birth") or "",
        tenant_ref=p.get("tenant_ref", ""), home_address=dacc_pb2.Address(**(p.get("home_address") or {})),
        phone=p.get("phone", ""),
    )


def _tenant(t: TenantBriefing) -> dacc_pb2.TenantBriefing:
    return dacc_pb2.TenantBriefing(
        tenant_ref=t.tenant_ref, address=dacc_pb2.Address(**t.address), joint_tenancy=t.joint_tenancy,
        incidents=[
            dacc_pb2.BriefedIncident(
                incident_id=i.incident_id, incident_ref=i.incident_ref,
                risk_grade=dacc_pb2.PoliceRiskGrade.Value(i.risk_grade), consent_to_share=i.consent_to_share,
                case_id=i.case_id, linked_to_open_case=i.linked_to_open_case, matched_on=_matched_on(i),
                outcomes_recorded=len(i.outcomes),
            )
            for i in t.incidents
        ],
        disclosures=[
            dacc_pb2.EarlierDisclosure(case_id=d["case_id"], channel=intake_pb2.Channel.Value(d["channel"]),
                                       received_at=to_timestamp(d["received_at"]), case_status=d["case_status"])
            for d in t.disclosures
        ],
        risk_grades=[
            dacc_pb2.RiskGradeEntry(case_id=r["case_id"], grade=r["grade"], source=r["source"], at=to_timestamp(r["at"]))
            for r in t.risk_grades
        ],
        welfare_visits=[
            dacc_pb2.WelfareVisit(
                task_id=w["task_id"], case_id=w["case_id"], requested_at=to_timestamp(w["requested_at"]),
                due_date=w["due_date"], made=w["visited_at"] is not None,
                visited_at=to_timestamp(w["visited_at"]) if w["visited_at"] else None,
            )
            for w in t.welfare_visits
        ],
        work_orders=[
            dacc_pb2.WorkOrderEntry(
                work_order_id=w["work_order_id"], case_id=w["case_id"],
                measures=[repairs_pb2.Measure.Value(m) for m in w["measures"]],
                priority=repairs_pb2.Priority.Value(w["priority"]), source=repairs_pb2.WorkOrderSource.Value(w["source"]),
                status=w["status"], raised_at=to_timestamp(w["raised_at"]),
            )
            for w in t.work_orders
        ],
        asb_reports=[
            dacc_pb2.AsbReport(report_id=a["report_id"], role=dacc_pb2.AsbRole.Value(a["role"]), category=a["category"],
                               reported_on=a["reported_on"], summary=a["summary"])
            for a in t.asb_reports
        ],
        tenancy_issues=[
            dacc_pb2.TenancyIssue(issue_id=x["issue_id"], kind=intake_pb2.TenancyAction.Value(x["kind"]),
                                  noted_on=x["noted_on"], summary=x["summary"])
            for x in t.tenancy_issues
        ],
        dacc_outcomes=[
            dacc_pb2.InterventionRecord(outcome_id=o["outcome_id"], case_id=o["case_id"], date=o["date"],
                                        interventions=[dacc_pb2.Intervention.Value(i) for i in o["interventions"]])
            for o in t.dacc_outcomes
        ],
    )


def register(desk: DaccDesk):
    servicer = DaccFeedServicer(desk)
    return lambda server: dacc_pb2_grpc.add_DaccFeedServicer_to_server(servicer, server)


SERVICE_NAMES = [dacc_pb2.DESCRIPTOR.services_by_name["DaccFeed"].full_name]
