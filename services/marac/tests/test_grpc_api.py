"""marac.v1.MaracService over a real socket: every read and write maps to and from the contract,
and bad input is INVALID_ARGUMENT naming its field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.testing import TestIdentities, controlled_clock
from casework.marac.v1 import marac_pb2, marac_pb2_grpc
from casework.repairs.v1 import repairs_pb2
from marac.entrypoints import grpc_api

from .helpers import MONDAY, Feed, app_for, case_id_for

CSO = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "cso-2"))
POLICE = (("x-agency", "gwent-police"), ("x-role", "DA-OFFICER"), ("x-user", "pc-11"))


class Marac:
    def __init__(self, stub: marac_pb2_grpc.MaracServiceStub, feed: Feed) -> None:
        self.stub, self.feed = stub, feed


@pytest.fixture
async def marac(tmp_path: Path) -> AsyncIterator[Marac]:
    identities = TestIdentities(tmp_path / "issuer")
    with controlled_clock(MONDAY):
        app = app_for(tmp_path)
        port = free_port()
        server, _ = build_server("marac", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port, identities.verifier)
        await server.start()
        channel = identities.aio_channel(f"127.0.0.1:{port}")
        yield Marac(marac_pb2_grpc.MaracServiceStub(channel), Feed(app))
        await channel.close()
        await server.stop(grace=None)


def fields_of(error: Any) -> set[str]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return {v.field for v in bad.field_violations}
    return set()


async def test_a_meeting_its_case_list_actions_and_a_transfer(marac: Marac) -> None:
    s = marac.stub
    case_id = case_id_for("grpc")
    marac.feed.marac_referral(case_id, subject_ref="T-9", sent_at=MONDAY, referring_agency="gwent-police")
    meeting = (await s.ScheduleMeeting(
        marac_pb2.ScheduleMeetingRequest(area="torfaen", meeting_date="2027-03-18"), metadata=CSO
    )).meeting
    (entry,) = (await s.GetCaseList(marac_pb2.GetCaseListRequest(meeting_id=meeting.meeting_id), metadata=CSO)).entries
    assert (entry.case_id, entry.risk_grade, entry.referring_agency, entry.repeat, entry.children_count) == (
        case_id, "HIGH", "gwent-police", False, 2,
    )

    await s.RecordAttendance(marac_pb2.RecordAttendanceRequest(
        meeting_id=meeting.meeting_id, agency="gwent-police", representative="DS Example", status=marac_pb2.ABSENT,
    ), metadata=CSO)
    shared = await s.RecordInformationShared(marac_pb2.RecordInformationSharedRequest(
        meeting_id=meeting.meeting_id, case_id=case_id, agency="idva", categories=[marac_pb2.SUPPORT_ENGAGEMENT],
        summary="engaging weekly", relevant_and_proportionate=True,
    ), metadata=CSO)
    assert shared.information_shared[0].summary == "engaging weekly"

    action = (await s.AgreeAction(marac_pb2.AgreeActionRequest(
        idempotency_key="a-1", case_id=case_id, meeting_id=meeting.meeting_id, owning_agency="landlord",
        kind=marac_pb2.TARGET_HARDENING, description="offer target hardening", due_date="2027-03-22",
        source=marac_pb2.MARAC_MEETING, measures=[repairs_pb2.CCTV],
    ), metadata=CSO)).action
    assert action.status == marac_pb2.OPEN and list(action.measures) == [repairs_pb2.CCTV]
    await s.CompleteAction(marac_pb2.CompleteActionRequest(action_id=action.action_id, completion_note="CCTV offered"), metadata=CSO)
    reopened = await s.ReopenAction(
        marac_pb2.ReopenActionRequest(action_id=action.action_id, reason="victim asked again"), metadata=CSO
    )
    assert reopened.status == marac_pb2.OPEN and reopened.reopened_count == 1 and reopened.due_date == "2027-03-22"

    moved = await s.TransferCase(
        marac_pb2.TransferCaseRequest(case_id=case_id, to_area="blaenau-gwent", reason="moved"), metadata=CSO
    )
    assert moved.area == "blaenau-gwent" and list(moved.transfers[0].open_action_ids) == [action.action_id]
    got = await s.GetCase(marac_pb2.GetCaseRequest(case_id=case_id), metadata=CSO)
    assert got.referrals[0].area == "torfaen" and len(got.information_shared) == 1
    (listed,) = (await s.ListActions(marac_pb2.ListActionsRequest(case_id=case_id), metadata=CSO)).actions
    assert listed.action_id == action.action_id and listed.area == "torfaen"
    got_meeting = await s.GetMeeting(marac_pb2.GetMeetingRequest(meeting_id=meeting.meeting_id), metadata=CSO)
    assert got_meeting.attendance[0].status == marac_pb2.ABSENT and not got_meeting.HasField("previous_cut_off_at")


async def test_bad_requests_name_their_fields(marac: Marac) -> None:
    s = marac.stub
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await s.ScheduleMeeting(marac_pb2.ScheduleMeetingRequest(area="Not An Area!", meeting_date="2027-13-01"), metadata=CSO)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and fields_of(bad.value) == {"area", "meeting_date"}
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await s.AgreeAction(marac_pb2.AgreeActionRequest(case_id="nope"), metadata=CSO)
    assert {"idempotency_key", "case_id", "owning_agency", "kind", "description", "due_date", "source"} <= fields_of(bad.value)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await s.CompleteAction(
            marac_pb2.CompleteActionRequest(action_id="6d0b3b0e-2a0f-4d53-9a43-8a8f3c1e0b11"), metadata=CSO
        )
    assert fields_of(bad.value) == {"completion_note"}
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await s.GetMeeting(marac_pb2.GetMeetingRequest(meeting_id="6d0b3b0e-2a0f-4d53-9a43-8a8f3c1e0b11"), metadata=CSO)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
