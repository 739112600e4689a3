"""Repairs domain events → contract messages on `repairs.events.v1`.

Published: ids, measures, priorities, stages, hashes, deadlines and times. Not published: the
reason for a work order, its cancellation or a lock-change approval, progress notes, the
evidence itself or where it is stored (all stay in repairs' store).
"""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.repairs.v1 import events_pb2, repairs_pb2
from repairs.domain.case_file import CaseFile
from repairs.domain.work_order import WorkOrder

PUBLISHED = (
    CaseFile.CaseFileOpened, WorkOrder.WorkOrderRaised, WorkOrder.EvidenceAttached, WorkOrder.ContractorAssigned,
    WorkOrder.LockChangeApproved, WorkOrder.WorkStarted, WorkOrder.WorkCompleted, WorkOrder.WorkOrderCancelled,
)


def publishes(event_class: type) -> bool:
    """The relay decodes no other notification (`to_contract` is None for anything else)."""
    return issubclass(event_class, PUBLISHED)


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if not isinstance(domain_event, PUBLISHED):
        return None
    if isinstance(domain_event, CaseFile.CaseFileOpened):
        payload = events_pb2.CaseFileOpened(
            case_id=domain_event.case_id, postcode_district=domain_event.postcode_district
        )
        return OutgoingEvent(domain_event.case_id, payload, occurred_at=domain_event.timestamp)
    if isinstance(domain_event, WorkOrder.WorkOrderRaised):
        e = domain_event
        payload = events_pb2.WorkOrderRaised(
            case_id=e.case_id,
            work_order_id=str(e.originator_id),
            measures=[repairs_pb2.Measure.Value(m) for m in e.measures],
            priority=repairs_pb2.Priority.Value(e.priority),
            source=repairs_pb2.WorkOrderSource.Value(e.source),
            joint_tenancy=e.joint_tenancy,
            deadline=deadline_message(e.deadline),
        )
        return OutgoingEvent(e.case_id, payload, occurred_at=e.timestamp)
    return _work_order_event(domain_event)


def _work_order_event(e: Any) -> OutgoingEvent | None:
    case_id = getattr(e, "case_id", "")
    order_id = str(e.originator_id)
    payload: Any
    if isinstance(e, WorkOrder.EvidenceAttached):
        payload = events_pb2.EvidenceAttached(
            case_id=case_id, work_order_id=order_id, evidence_id=e.evidence_id,
            stage=repairs_pb2.EvidenceStage.Value(e.stage), sha256=e.sha256,
            content_type=e.content_type, size_bytes=e.size_bytes,
        )
    elif isinstance(e, WorkOrder.ContractorAssigned):
        payload = events_pb2.ContractorAssigned(case_id=case_id, work_order_id=order_id, contractor=e.contractor)
    elif isinstance(e, WorkOrder.LockChangeApproved):
        payload = events_pb2.LockChangeApproved(
            case_id=case_id, work_order_id=order_id,
            approver_role=repairs_pb2.ApproverRole.Value(e.approver_role), approved_by=e.approved_by,
        )
    elif isinstance(e, WorkOrder.WorkStarted):
        payload = events_pb2.WorkStarted(case_id=case_id, work_order_id=order_id, started_at=to_timestamp(e.started_at))
    elif isinstance(e, WorkOrder.WorkCompleted):
        payload = events_pb2.WorkCompleted(
            case_id=case_id, work_order_id=order_id, completed_at=to_timestamp(e.completed_at), on_time=e.on_time,
            deadline=deadline_message(e.deadline),
        )
    elif isinstance(e, WorkOrder.WorkOrderCancelled):
        payload = events_pb2.WorkOrderCancelled(case_id=case_id, work_order_id=order_id)
    else:
        return None
    return OutgoingEvent(case_id, payload, occurred_at=e.timestamp)
