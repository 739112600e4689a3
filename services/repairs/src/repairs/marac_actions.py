"""A landlord-owned MARAC TARGET_HARDENING action becomes a work order (issue #6, seed 001 §4).

marac's `ActionAgreed` carries the measures; the order is SECURITY priority (its deadline from the
configured hours, counted from when the action was agreed), source MARAC_ACTION. Its id is derived
from the action's, so a redelivered or republished `ActionAgreed` never raises a second order.
Agency requests for extra security (seed 001 §8) travel the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from caseplatform.enums import enum_names
from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Unit
from casework.marac.v1 import events_pb2 as marac_events
from casework.marac.v1 import marac_pb2
from repairs.domain.case_file import CaseFile
from repairs.domain.work_order import Priority, Source, WorkOrder, work_order_id_for

if TYPE_CHECKING:
    from repairs.application import RepairsApplication

MARAC_AGENCY = "marac"  # the "caller" part of the order's id: orders raised by MARAC actions


def wants_work_order(agreed: marac_events.ActionAgreed) -> bool:
    return agreed.landlord_owned and agreed.kind == marac_pb2.TARGET_HARDENING and len(agreed.measures) > 0


def raise_for_marac_action(app: RepairsApplication, event: IncomingEvent, unit: Unit) -> None:
    agreed = event.payload
    assert isinstance(agreed, marac_events.ActionAgreed)
    if not wants_work_order(agreed):
        return
    order_id = work_order_id_for(agreed.case_id, MARAC_AGENCY, f"marac-action:{agreed.action_id}")
    if unit.get(order_id) is not None:
        return
    # Normally intake's disclosure opened the file long before the MARAC; if marac's event arrives
    # first, the file is opened here without the patch (which only routes contractors).
    case_file = unit.get(CaseFile.create_id(agreed.case_id)) or CaseFile(
        case_id=agreed.case_id, postcode_district="", children_count=0, meta=unit.meta()
    )
    agreed_at = event.occurred_at
    order = WorkOrder(
        work_order_id=order_id,
        case_id=agreed.case_id,
        measures=enum_names(agreed, "measures"),
        priority=Priority.SECURITY.value,
        source=Source.MARAC_ACTION.value,
        reason=f"MARAC action {agreed.action_id}: target hardening",
        joint_tenancy=False,
        postcode_district=case_file.postcode_district,
        request_hash="",
        deadline=app.deadline_for(Priority.SECURITY.value, agreed_at),
        raised_at=agreed_at,
        meta=unit.meta(),
    )
    case_file.file_work_order(work_order_id=str(order_id), meta=unit.meta())
    unit.collect(order, case_file)
