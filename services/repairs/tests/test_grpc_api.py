"""repairs.v1.RepairsService over a real socket: raising work orders, errors by field,
FAILED_PRECONDITION for a repair without a BEFORE photo and an unapproved joint-tenancy lock
change, and contractors' isolation (PERMISSION_DENIED)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities, controlled_clock
from caseplatform.testing import field_violations as violations
from casework.repairs.v1 import repairs_pb2, repairs_pb2_grpc
from repairs.application import RepairsApplication
from repairs.entrypoints import grpc_api

from .helpers import GOOD_FRIDAY_EVENING, open_case

CHO = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-7"))
CSO = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "cso-2"))
ACME = (("x-agency", "acme-builders"), ("x-role", "contractor"), ("x-user", "fitter-1"))
OTHER = (("x-agency", "other-locks"), ("x-role", "contractor"), ("x-user", "fitter-9"))


class Repairs:
    def __init__(self, stub: repairs_pb2_grpc.RepairsServiceStub, app: RepairsApplication) -> None:
        self.stub, self.app = stub, app


@pytest.fixture
async def repairs(tmp_path: Path) -> AsyncIterator[Repairs]:
    identities = TestIdentities(tmp_path / "issuer")
    with controlled_clock(GOOD_FRIDAY_EVENING):
        app = RepairsApplication(PlatformSettings(casework_data_dir=tmp_path))
        port = free_port()
        server, _ = build_server("repairs", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port, identities.verifier)
        await server.start()
        channel = identities.aio_channel(f"127.0.0.1:{port}")
        yield Repairs(repairs_pb2_grpc.RepairsServiceStub(channel), app)
        await channel.close()
        await server.stop(grace=None)


def raise_request(case_id: str, **overrides: Any) -> repairs_pb2.RaiseWorkOrderRequest:
    fields: dict[str, Any] = {
        "idempotency_key": "wo-1",
        "case_id": case_id,
        "measures": [repairs_pb2.EMERGENCY_REPAIR_REGLAZING],
        "priority": repairs_pb2.EMERGENCY,
        "reason": "window broken",
        "source": repairs_pb2.INITIAL_ASSESSMENT,
    }
    fields.update(overrides)
    return repairs_pb2.RaiseWorkOrderRequest(**fields)


async def test_raise_then_get_work_orders(repairs: Repairs) -> None:
    case_id = open_case(repairs.app)
    reply = await repairs.stub.RaiseWorkOrder(raise_request(case_id), metadata=CHO)
    order = reply.work_order
    assert reply.created and order.status == repairs_pb2.RAISED
    assert (order.deadline.kind, order.deadline.due_date) == ("REPAIRS_EMERGENCY", "2027-03-27")
    assert "sympathetically" in order.sensitivity_instruction
    again = await repairs.stub.RaiseWorkOrder(raise_request(case_id), metadata=CHO)
    assert (again.created, again.work_order.work_order_id) == (False, order.work_order_id)
    listed = await repairs.stub.GetWorkOrders(repairs_pb2.GetWorkOrdersRequest(case_id=case_id), metadata=CHO)
    assert [o.work_order_id for o in listed.work_orders] == [order.work_order_id]


async def test_bad_requests_name_every_field(repairs: Repairs) -> None:
    request = repairs_pb2.RaiseWorkOrderRequest(case_id="nope")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.RaiseWorkOrder(request, metadata=CHO)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) >= {"idempotency_key", "case_id", "measures", "priority", "reason", "source"}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.AttachEvidence(
            repairs_pb2.AttachEvidenceRequest(work_order_id="x", content_type="text/plain"), metadata=CHO
        )
    assert set(violations(caught.value)) == {"work_order_id", "stage", "content", "content_type"}


async def test_unknown_case_is_not_found(repairs: Repairs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.RaiseWorkOrder(raise_request("6f1c0f0e-1d2b-4c3a-9e8f-000000000001"), metadata=CHO)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_start_without_before_photo_is_failed_precondition(repairs: Repairs) -> None:
    order = (await repairs.stub.RaiseWorkOrder(raise_request(open_case(repairs.app)), metadata=CHO)).work_order
    start = repairs_pb2.StartWorkRequest(work_order_id=order.work_order_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.StartWork(start, metadata=CHO)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "BEFORE" in (caught.value.details() or "")
    evidence = await repairs.stub.AttachEvidence(
        repairs_pb2.AttachEvidenceRequest(
            work_order_id=order.work_order_id, stage=repairs_pb2.BEFORE, content=b"photo", content_type="image/jpeg"
        ),
        metadata=CHO,
    )
    assert len(evidence.evidence.sha256) == 64 and evidence.evidence.attached_by == "cho-7"
    started = await repairs.stub.StartWork(start, metadata=CHO)
    assert started.status == repairs_pb2.IN_PROGRESS


async def test_unapproved_joint_tenancy_lock_change_is_failed_precondition(repairs: Repairs) -> None:
    request = raise_request(
        open_case(repairs.app), measures=[repairs_pb2.LOCK_CHANGE], priority=repairs_pb2.SECURITY, joint_tenancy=True
    )
    order = (await repairs.stub.RaiseWorkOrder(request, metadata=CHO)).work_order
    start = repairs_pb2.StartWorkRequest(work_order_id=order.work_order_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.StartWork(start, metadata=CHO)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    approve = repairs_pb2.ApproveLockChangeRequest(
        work_order_id=order.work_order_id, approver_role=repairs_pb2.APPROVER_CSO, reason="protect remaining tenant"
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.ApproveLockChange(approve, metadata=CHO)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    approved = await repairs.stub.ApproveLockChange(approve, metadata=CSO)
    assert (approved.lock_change_approved, approved.lock_change_approved_by) == (True, "cso-2")
    assert (await repairs.stub.StartWork(start, metadata=CHO)).status == repairs_pb2.IN_PROGRESS


async def test_contractors_see_only_their_own_jobs(repairs: Repairs) -> None:
    case_id = open_case(repairs.app)
    order = (
        await repairs.stub.RaiseWorkOrder(
            raise_request(case_id, measures=[repairs_pb2.EXTRA_LOCKS], priority=repairs_pb2.SECURITY), metadata=CHO
        )
    ).work_order
    assigned = await repairs.stub.AssignContractor(
        repairs_pb2.AssignContractorRequest(work_order_id=order.work_order_id, contractor="acme-builders"), metadata=CHO
    )
    assert (assigned.status, assigned.contractor) == (repairs_pb2.ASSIGNED, "acme-builders")
    mine = await repairs.stub.ListMyJobs(repairs_pb2.ListMyJobsRequest(), metadata=ACME)
    assert [j.work_order_id for j in mine.jobs] == [order.work_order_id]
    assert "Do not discuss the case" in mine.jobs[0].sensitivity_instruction
    assert (await repairs.stub.ListMyJobs(repairs_pb2.ListMyJobsRequest(), metadata=OTHER)).jobs == []
    report = repairs_pb2.ReportProgressRequest(work_order_id=order.work_order_id, note="locks fitted")
    reported = await repairs.stub.ReportProgress(report, metadata=ACME)
    assert [p.note for p in reported.progress] == ["locks fitted"]
    for call in (
        repairs.stub.ReportProgress(report, metadata=OTHER),
        repairs.stub.StartWork(repairs_pb2.StartWorkRequest(work_order_id=order.work_order_id), metadata=OTHER),
        repairs.stub.GetWorkOrders(repairs_pb2.GetWorkOrdersRequest(case_id=case_id), metadata=ACME),
        repairs.stub.ListMyJobs(repairs_pb2.ListMyJobsRequest(), metadata=CHO),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_complete_needs_after_evidence_and_cancel(repairs: Repairs) -> None:
    case_id = open_case(repairs.app)
    order = (
        await repairs.stub.RaiseWorkOrder(
            raise_request(case_id, measures=[repairs_pb2.CCTV], priority=repairs_pb2.SECURITY), metadata=CHO
        )
    ).work_order
    ref = order.work_order_id
    await repairs.stub.StartWork(repairs_pb2.StartWorkRequest(work_order_id=ref), metadata=CHO)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.CompleteWork(repairs_pb2.CompleteWorkRequest(work_order_id=ref), metadata=CHO)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    await repairs.stub.AttachEvidence(
        repairs_pb2.AttachEvidenceRequest(work_order_id=ref, stage=repairs_pb2.AFTER, content=b"a", content_type="image/png"),
        metadata=CHO,
    )
    done = await repairs.stub.CompleteWork(repairs_pb2.CompleteWorkRequest(work_order_id=ref), metadata=CHO)
    assert (done.status, done.on_time) == (repairs_pb2.COMPLETED, True)
    other = (
        await repairs.stub.RaiseWorkOrder(
            raise_request(case_id, idempotency_key="wo-2", measures=[repairs_pb2.LIGHTING], priority=repairs_pb2.ROUTINE),
            metadata=CHO,
        )
    ).work_order
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await repairs.stub.CancelWorkOrder(repairs_pb2.CancelWorkOrderRequest(work_order_id=other.work_order_id), metadata=CHO)
    assert set(violations(caught.value)) == {"reason"}
    cancelled = await repairs.stub.CancelWorkOrder(
        repairs_pb2.CancelWorkOrderRequest(work_order_id=other.work_order_id, reason="no longer needed"), metadata=CHO
    )
    assert cancelled.status == repairs_pb2.CANCELLED
