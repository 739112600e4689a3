"""MARAC on the running system, over gRPC: a meeting is scheduled, attendance recorded, and a
landlord TARGET_HARDENING action "offer target hardening" agreed for a case — which repairs turns
into a work order through marac.events.v1. An action is not completed without a note."""

from __future__ import annotations

from datetime import datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from caseplatform.calendar import LONDON
from casework.marac.v1 import marac_pb2
from casework.repairs.v1 import repairs_pb2

from .client import STAFF, Client, disclosure, eventually

pytestmark = pytest.mark.system

CSO = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "cso-2"))
GOOD_FRIDAY_1730 = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)


def bad_fields(error: grpc.RpcError) -> set[str]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return {v.field for v in bad.field_violations}
    return set()


def test_a_marac_target_hardening_action_becomes_a_work_order(client: Client) -> None:
    case_id = client.submit(disclosure(received_at=GOOD_FRIDAY_1730)).case_id
    eventually(lambda: client.case_files(case_id))  # marac and repairs both know the case

    scheduled = client.marac.ScheduleMeeting(
        marac_pb2.ScheduleMeetingRequest(area="torfaen", meeting_date="2027-04-08"), metadata=CSO, timeout=10
    )
    meeting = scheduled.meeting
    # the list closes three working days before (the shared areas file): the end of Monday 5 April
    assert meeting.area == "torfaen" and meeting.cut_off_at.ToDatetime().date().isoformat() == "2027-04-05"
    for agency, status in (("landlord", marac_pb2.PRESENT), ("gwent-police", marac_pb2.DEPUTY)):
        client.marac.RecordAttendance(
            marac_pb2.RecordAttendanceRequest(
                meeting_id=meeting.meeting_id, agency=agency, representative="Rep", status=status
            ),
            metadata=CSO, timeout=10,
        )
    got = client.marac.GetMeeting(marac_pb2.GetMeetingRequest(meeting_id=meeting.meeting_id), metadata=STAFF, timeout=10)
    assert {(a.agency, a.status) for a in got.attendance} == {
        ("landlord", marac_pb2.PRESENT), ("gwent-police", marac_pb2.DEPUTY),
    }

    agreed = client.marac.AgreeAction(
        marac_pb2.AgreeActionRequest(
            idempotency_key="th-1", case_id=case_id, meeting_id=meeting.meeting_id, owning_agency="landlord",
            kind=marac_pb2.TARGET_HARDENING, description="offer target hardening", due_date="2027-04-15",
            source=marac_pb2.MARAC_MEETING, measures=[repairs_pb2.EXTRA_LOCKS, repairs_pb2.FIREPROOF_LETTERBOX],
        ),
        metadata=CSO, timeout=10,
    )
    action = agreed.action
    assert agreed.created and action.deadline.clock_id == f"marac-action:{action.action_id}"

    def work_order() -> repairs_pb2.WorkOrder:
        orders = client.repairs.GetWorkOrders(repairs_pb2.GetWorkOrdersRequest(case_id=case_id), metadata=STAFF, timeout=10)
        assert len(orders.work_orders) == 1
        return orders.work_orders[0]

    order = eventually(work_order)
    assert order.source == repairs_pb2.MARAC_ACTION and order.priority == repairs_pb2.SECURITY
    assert list(order.measures) == [repairs_pb2.EXTRA_LOCKS, repairs_pb2.FIREPROOF_LETTERBOX]
    assert order.deadline.kind == "REPAIRS_SECURITY" and order.postcode_district == "NP4"

    with pytest.raises(grpc.RpcError) as refused:
        client.marac.CompleteAction(
            marac_pb2.CompleteActionRequest(action_id=action.action_id), metadata=CSO, timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(refused.value) == {"completion_note"}

    done = client.marac.CompleteAction(
        marac_pb2.CompleteActionRequest(action_id=action.action_id, completion_note="target hardening offered and accepted"),
        metadata=CSO, timeout=10,
    )
    assert done.status == marac_pb2.COMPLETED
    (listed,) = client.marac.ListActions(marac_pb2.ListActionsRequest(case_id=case_id), metadata=STAFF, timeout=10).actions
    assert listed.completion_note == "target hardening offered and accepted"

    def on_timeline() -> list[str]:
        types = [e.event_type for e in client.timeline(case_id).entries]
        assert {"marac.v1.ActionAgreed", "marac.v1.ActionCompleted", "repairs.v1.WorkOrderRaised"} <= set(types)
        return types

    eventually(on_timeline)
    # Repairs still sees one order: the action raised exactly one.
    assert len(client.repairs.GetWorkOrders(repairs_pb2.GetWorkOrdersRequest(case_id=case_id), metadata=STAFF, timeout=10).work_orders) == 1
