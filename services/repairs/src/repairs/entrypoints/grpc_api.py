"""repairs.v1.RepairsService: proto → command → application → proto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import to_timestamp
from caseplatform.errors import InvalidArgument
from caseplatform.identity import require_actor
from caseplatform.ids import parse_uuid
from caseplatform.paging import next_page_token, page_asked, too_many_for_one_answer
from caseplatform.validation import proto_to_dict
from casework.repairs.v1 import repairs_pb2, repairs_pb2_grpc
from repairs import commands
from repairs.application import RepairsApplication
from repairs.domain.work_order import WorkOrder

# Without page_size every job comes in one answer, up to this many (a job with its evidence and
# progress runs to kilobytes; gRPC clients refuse answers over 4 MB by default).
UNPAGED_MAX = 500

T = TypeVar("T")


class RepairsServicer(repairs_pb2_grpc.RepairsServiceServicer):
    def __init__(self, app: RepairsApplication) -> None:
        self._app = app

    async def _call(self, context: Any, fn: Callable[..., T], *args: Any) -> T:
        # PermissionDenied (like every domain error) is mapped to its status code by the edge.
        return await asyncio.to_thread(fn, *args)

    async def GetCaseFile(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        case_file = await asyncio.to_thread(self._app.case_file, case_id)
        return repairs_pb2.GetCaseFileResponse(
            case_id=case_file.case_id,
            postcode_district=case_file.postcode_district,
            opened_at=to_timestamp(case_file.created_on),
            children_count=case_file.children_count,
        )

    async def RaiseWorkOrder(self, request, context):
        command = commands.parse(commands.RaiseWorkOrder, proto_to_dict(request))
        raised = await self._call(context, self._app.raise_work_order, command, require_actor())
        return repairs_pb2.RaiseWorkOrderResponse(work_order=work_order_message(raised.work_order), created=raised.created)

    async def AttachEvidence(self, request, context):
        data = proto_to_dict(request)
        data.pop("content", None)
        if request.content:
            data["content"] = bytes(request.content)
        command = commands.parse(commands.AttachEvidence, data)
        evidence = await self._call(context, self._app.attach_evidence, command, require_actor())
        return repairs_pb2.AttachEvidenceResponse(evidence=evidence_message(evidence))

    async def AssignContractor(self, request, context):
        command = commands.parse(commands.AssignContractor, proto_to_dict(request))
        return work_order_message(await self._call(context, self._app.assign_contractor, command, require_actor()))

    async def ApproveLockChange(self, request, context):
        command = commands.parse(commands.ApproveLockChange, proto_to_dict(request))
        return work_order_message(await self._call(context, self._app.approve_lock_change, command, require_actor()))

    async def StartWork(self, request, context):
        ref = commands.parse(commands.WorkOrderRef, proto_to_dict(request))
        return work_order_message(await self._call(context, self._app.start_work, ref.work_order_id, require_actor()))

    async def CompleteWork(self, request, context):
        ref = commands.parse(commands.WorkOrderRef, proto_to_dict(request))
        return work_order_message(await self._call(context, self._app.complete_work, ref.work_order_id, require_actor()))

    async def CancelWorkOrder(self, request, context):
        command = commands.parse(commands.CancelWorkOrder, proto_to_dict(request))
        return work_order_message(await self._call(context, self._app.cancel_work_order, command, require_actor()))

    async def GetWorkOrders(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        orders = await self._call(context, self._app.work_orders, case_id, require_actor())
        return repairs_pb2.GetWorkOrdersResponse(work_orders=[work_order_message(o) for o in orders])

    async def ListMyJobs(self, request, context):
        actor = require_actor()
        listing = repairs_pb2.ListMyJobsRequest(open_only=request.open_only)  # what a page token is tied to
        page = page_asked(request.page_size, request.page_token, listing, key_parts=2)
        if page.size is None:
            orders, more = await self._call(context, self._app.my_jobs_page, actor, request.open_only, None,
                                            UNPAGED_MAX)
            if more is not None:
                raise too_many_for_one_answer("jobs", UNPAGED_MAX)
            return repairs_pb2.ListMyJobsResponse(jobs=[work_order_message(o) for o in orders])
        after = _job_key(page.after) if page.after else None
        orders, last = await self._call(context, self._app.my_jobs_page, actor, request.open_only, after, page.size)
        return repairs_pb2.ListMyJobsResponse(
            jobs=[work_order_message(o) for o in orders],
            next_page_token=next_page_token([last[0], str(last[1])], listing) if last is not None else "",
        )

    async def ReportProgress(self, request, context):
        command = commands.parse(commands.ReportProgress, proto_to_dict(request))
        return work_order_message(await self._call(context, self._app.report_progress, command, require_actor()))


def evidence_message(e: dict[str, Any]) -> repairs_pb2.Evidence:
    return repairs_pb2.Evidence(
        evidence_id=e["evidence_id"],
        stage=repairs_pb2.EvidenceStage.Value(e["stage"]),
        reference=e["reference"],
        sha256=e["sha256"],
        content_type=e["content_type"],
        size_bytes=e["size_bytes"],
        attached_by=e["attached_by"],
        attached_at=to_timestamp(e["attached_at"]),
    )


def work_order_message(o: WorkOrder) -> repairs_pb2.WorkOrder:
    message = repairs_pb2.WorkOrder(
        work_order_id=str(o.id),
        case_id=o.case_id,
        measures=[repairs_pb2.Measure.Value(m) for m in o.measures],
        priority=repairs_pb2.Priority.Value(o.priority),
        source=repairs_pb2.WorkOrderSource.Value(o.source),
        reason=o.reason,
        joint_tenancy=o.joint_tenancy,
        status=repairs_pb2.WorkOrderStatus.Value(o.status),
        deadline=deadline_message(o.deadline),
        raised_at=to_timestamp(o.raised_at),
        contractor=o.contractor,
        sensitivity_instruction=o.sensitivity_instruction,
        evidence=[evidence_message(e) for e in o.evidence],
        lock_change_approved=o.approval is not None,
        on_time=o.on_time,
        cancel_reason=o.cancel_reason,
        progress=[
            repairs_pb2.Progress(note=p["note"], reported_by=p["reported_by"], reported_at=to_timestamp(p["reported_at"]))
            for p in o.progress
        ],
        postcode_district=o.postcode_district,
    )
    if o.approval is not None:
        message.lock_change_approved_by = o.approval["approved_by"]
        message.lock_change_reason = o.approval["reason"]
    if o.started_at is not None:
        message.started_at.CopyFrom(to_timestamp(o.started_at))
    if o.completed_at is not None:
        message.completed_at.CopyFrom(to_timestamp(o.completed_at))
    return message


def register(app: RepairsApplication):
    servicer = RepairsServicer(app)
    return lambda server: repairs_pb2_grpc.add_RepairsServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [repairs_pb2.DESCRIPTOR.services_by_name["RepairsService"].full_name]


def _job_key(after: tuple[str, ...]) -> tuple[str, int]:
    """(work order id, its place in the contractor's list) where the previous page ended."""
    work_order_id, place = after
    if not place.isdigit():
        raise InvalidArgument.one("page_token", "is not a token this list gave")
    return work_order_id, int(place)
