"""Repairs on the running system: intake's disclosure opens repairs' case file, a STAFF raises an
emergency work order over gRPC, and the case's timeline shows it (no reason, no personal data)."""

from __future__ import annotations

from datetime import datetime

import grpc
import pytest

from caseplatform.calendar import LONDON
from casework.repairs.v1 import repairs_pb2

from .client import STAFF, Client, disclosure, eventually

pytestmark = pytest.mark.system

GOOD_FRIDAY_1730 = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)
CONTRACTOR = (("x-agency", "acme-builders"), ("x-role", "contractor"), ("x-user", "fitter-1"))


def raise_order(client: Client, case_id: str) -> repairs_pb2.RaiseWorkOrderResponse:
    request = repairs_pb2.RaiseWorkOrderRequest(
        idempotency_key="wo-1",
        case_id=case_id,
        measures=[repairs_pb2.EMERGENCY_REPAIR_REGLAZING, repairs_pb2.FIREPROOF_LETTERBOX],
        priority=repairs_pb2.EMERGENCY,
        reason="front window broken in the incident",
        source=repairs_pb2.INITIAL_ASSESSMENT,
    )
    return client.repairs.RaiseWorkOrder(request, metadata=STAFF, timeout=10)


def test_a_work_order_on_a_disclosed_case_reaches_the_timeline(client: Client) -> None:
    case_id = client.submit(disclosure(received_at=GOOD_FRIDAY_1730)).case_id
    raised = eventually(lambda: raise_order(client, case_id))  # once repairs has opened its file
    order = raised.work_order
    assert order.deadline.kind == "REPAIRS_EMERGENCY" and order.status == repairs_pb2.RAISED

    with pytest.raises(grpc.RpcError) as refused:
        client.repairs.StartWork(repairs_pb2.StartWorkRequest(work_order_id=order.work_order_id), metadata=STAFF, timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    def raised_on_timeline() -> list:
        entries = [e for e in client.timeline(case_id).entries if e.event_type == "repairs.v1.WorkOrderRaised"]
        assert entries
        return entries

    (entry,) = eventually(raised_on_timeline)
    assert entry.service == "repairs"
    assert (entry.actor.agency, entry.actor.role) == ("landlord", "CSO")
    assert "Emergency work order raised" in entry.summary and "fireproof letterbox" in entry.summary
    assert "window broken" not in entry.summary


def test_a_contractor_cannot_list_a_case_s_work_orders(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        client.repairs.GetWorkOrders(
            repairs_pb2.GetWorkOrdersRequest(case_id="0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"), metadata=CONTRACTOR, timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
