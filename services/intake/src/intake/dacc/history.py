"""What intake learns for the DACC briefing from other services' events (run inside the inbox
unit, so a redelivered event records nothing twice): every risk grade of a tenant's cases, and the
work orders (target hardening and repairs) raised on them and how they ended."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from caseplatform.enums import enum_name, enum_names
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.inbox import Unit
from casework.repairs.v1 import events_pb2 as repairs_events
from casework.risk.v1 import events_pb2 as risk_events
from intake.dacc.aggregates import TenancyFile
from intake.domain.case import Case


def learn(event: IncomingEvent, unit: Unit) -> None:
    payload = event.payload
    if isinstance(payload, risk_events.RiskAssessed):
        _with_file(unit, payload.case_id, lambda f: f.knows("risk_grades", payload.assessment_id) or f.learn_risk_grade(
            assessment_id=payload.assessment_id, case_id=payload.case_id, grade=enum_name(payload, "grade"),
            source=enum_name(payload, "checklist"), at=from_timestamp(event.envelope.occurred_at),
        ))
    elif isinstance(payload, repairs_events.WorkOrderRaised):
        _with_file(unit, payload.case_id, lambda f: f.knows("work_orders", payload.work_order_id) or f.learn_work_order(
            work_order_id=payload.work_order_id, case_id=payload.case_id,
            measures=enum_names(payload, "measures"),
            priority=enum_name(payload, "priority"), source=enum_name(payload, "source"),
            raised_at=from_timestamp(event.envelope.occurred_at),
        ))
    elif isinstance(payload, repairs_events.WorkCompleted | repairs_events.WorkOrderCancelled):
        status = "COMPLETED" if isinstance(payload, repairs_events.WorkCompleted) else "CANCELLED"
        _with_file(unit, payload.case_id, lambda f: f.knows("work_orders", payload.work_order_id)
                   and f.learn_work_order_status(work_order_id=payload.work_order_id, status=status), create=False)


def _with_file(unit: Unit, case_id: str, apply: Any, create: bool = True) -> None:
    """Apply to the tenancy file of the case's tenant; a case without a tenancy has none."""
    try:
        case = unit.get(UUID(case_id))
    except ValueError:
        return
    tenant_ref = case.victim.get("tenant_ref", "") if isinstance(case, Case) else ""
    if not tenant_ref:
        return
    file = unit.get(TenancyFile.create_id(tenant_ref))
    if file is None and not create:
        return
    file = file or TenancyFile(tenant_ref=tenant_ref)
    apply(file)
    unit.collect(file)
