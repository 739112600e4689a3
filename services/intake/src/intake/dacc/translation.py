"""DACC domain events → contract messages on `intake.events.v1`: references, grades and flags.
The incident's addresses and parties, and what agencies shared, stay in intake's store."""

from __future__ import annotations

from typing import Any

from caseplatform.envelope import OutgoingEvent
from casework.intake.v1 import events_pb2
from casework.police.v1 import dacc_pb2
from casework.repairs.v1 import repairs_pb2
from intake.dacc.aggregates import DaccIncident


def _matched(e: Any) -> OutgoingEvent:
    payload = events_pb2.DaccIncidentMatched(
        case_id=e.case_id, incident_id=str(e.originator_id), dacc_date=e.dacc_date,
        police_risk_grade=dacc_pb2.PoliceRiskGrade.Value(e.risk_grade), consent_to_share=e.consent_to_share,
        matched_on=dacc_pb2.MatchedOn.Value(e.matched_on), linked_to_open_case=e.linked_to_open_case,
    )
    return OutgoingEvent(case_id=e.case_id, payload=payload, occurred_at=e.timestamp)


def _outcome(e: Any) -> OutgoingEvent:
    payload = events_pb2.DaccOutcomeRecorded(
        case_id=e.case_id, incident_id=str(e.originator_id), outcome_id=e.outcome_id, dacc_date=e.dacc_date,
        agencies_shared=sorted({s["agency"] for s in e.shared}),
        interventions=[dacc_pb2.Intervention.Value(i) for i in e.interventions],
        target_hardening_measures=[repairs_pb2.Measure.Value(m) for m in e.measures],
        joint_tenancy=e.joint_tenancy, welfare_visit_task_id=e.welfare_visit_task_id,
    )
    return OutgoingEvent(case_id=e.case_id, payload=payload, occurred_at=e.timestamp)


DACC_TRANSLATIONS = {
    DaccIncident.DaccIncidentMatched: _matched,
    DaccIncident.DaccOutcomeRecorded: _outcome,
}
