"""Repairs' reaction to a DACC outcome (intake.v1.DaccOutcomeRecorded): target hardening offered on
the call becomes a SECURITY-priority work order (source DACC_OUTCOME). Runs in the inbox unit;
the work order's id derives from the outcome, so a redelivered event raises nothing twice."""

from __future__ import annotations

from typing import Any

from caseplatform.enums import enum_names
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.inbox import Unit
from casework.intake.v1 import events_pb2 as intake_events
from casework.police.v1 import dacc_pb2
from repairs.domain.case_file import CaseFile
from repairs.domain.work_order import Priority, Source, WorkOrder, work_order_id_for

DACC_AGENCY = "intake-dacc"  # the work order's idempotency scope: the DACC outcome, not a caller


def react(app: Any, event: IncomingEvent, unit: Unit) -> None:
    outcome = event.payload
    if not isinstance(outcome, intake_events.DaccOutcomeRecorded):
        return
    if dacc_pb2.TARGET_HARDENING not in outcome.interventions or not outcome.target_hardening_measures:
        return
    work_order_id = work_order_id_for(outcome.case_id, DACC_AGENCY, outcome.outcome_id)
    if unit.get(work_order_id) is not None:
        return
    raised_at = from_timestamp(event.envelope.occurred_at)
    case_file = unit.get(CaseFile.create_id(outcome.case_id)) or CaseFile(
        case_id=outcome.case_id, postcode_district="", children_count=0, meta=unit.meta()
    )
    order = WorkOrder(
        work_order_id=work_order_id,
        case_id=outcome.case_id,
        measures=enum_names(outcome, "target_hardening_measures"),
        priority=Priority.SECURITY.value,
        source=Source.DACC_OUTCOME.value,
        reason="Target hardening offered at the daily police conference call (DACC)",
        joint_tenancy=outcome.joint_tenancy,
        postcode_district=case_file.postcode_district,
        request_hash=f"dacc:{outcome.outcome_id}",
        deadline=app.deadline_for(Priority.SECURITY.value, raised_at),
        raised_at=raised_at,
        meta=unit.meta(),
    )
    case_file.file_work_order(work_order_id=str(work_order_id), meta=unit.meta())
    unit.collect(order, case_file)
