"""marac.v1.MaracService: proto → command → application → proto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from caseplatform.envelope import to_timestamp
from caseplatform.identity import require_actor
from caseplatform.ids import parse_uuid
from caseplatform.validation import proto_to_dict
from casework.marac.v1 import marac_pb2, marac_pb2_grpc
from casework.repairs.v1 import repairs_pb2
from marac import commands
from marac.application import MaracApplication
from marac.domain.action import Action
from marac.domain.marac_case import MaracCase
from marac.domain.meeting import Meeting
from marac.translation import deadline_with_clock

T = TypeVar("T")


class MaracServicer(marac_pb2_grpc.MaracServiceServicer):
    def __init__(self, app: MaracApplication) -> None:
        self._app = app

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def GetCaseFile(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        case_file = await self._call(self._app.case_file, case_id)
        return marac_pb2.GetCaseFileResponse(
            case_id=case_file.case_id,
            postcode_district=case_file.postcode_district,
            opened_at=to_timestamp(case_file.created_on),
            children_count=case_file.children_count,
        )

    async def ScheduleMeeting(self, request, context):
        command = commands.parse(commands.ScheduleMeeting, proto_to_dict(request))
        meeting, created = await self._call(self._app.schedule_meeting, command, require_actor())
        return marac_pb2.ScheduleMeetingResponse(meeting=await self._meeting_message(meeting), created=created)

    async def GetMeeting(self, request, context):
        ref = commands.parse(commands.MeetingRef, proto_to_dict(request))
        return await self._meeting_message(await self._call(self._app.meeting, ref.meeting_id))

    async def GetCaseList(self, request, context):
        ref = commands.parse(commands.MeetingRef, proto_to_dict(request))
        entries = await self._call(self._app.case_list, ref.meeting_id)
        return marac_pb2.GetCaseListResponse(meeting_id=str(ref.meeting_id), entries=[entry_message(e) for e in entries])

    async def RecordAttendance(self, request, context):
        command = commands.parse(commands.RecordAttendance, proto_to_dict(request))
        return await self._meeting_message(await self._call(self._app.record_attendance, command, require_actor()))

    async def RecordInformationShared(self, request, context):
        command = commands.parse(commands.RecordInformationShared, proto_to_dict(request))
        return case_message(await self._call(self._app.record_information_shared, command, require_actor()))

    async def AgreeAction(self, request, context):
        command = commands.parse(commands.AgreeAction, proto_to_dict(request))
        action, created = await self._call(self._app.agree_action, command, require_actor())
        return marac_pb2.AgreeActionResponse(action=action_message(action), created=created)

    async def CompleteAction(self, request, context):
        command = commands.parse(commands.CompleteAction, proto_to_dict(request))
        return action_message(await self._call(self._app.complete_action, command, require_actor()))

    async def ReopenAction(self, request, context):
        command = commands.parse(commands.ReopenAction, proto_to_dict(request))
        return action_message(await self._call(self._app.reopen_action, command, require_actor()))

    async def TransferCase(self, request, context):
        command = commands.parse(commands.TransferCase, proto_to_dict(request))
        return case_message(await self._call(self._app.transfer_case, command, require_actor()))

    async def GetCase(self, request, context):
        ref = commands.parse(commands.CaseRef, proto_to_dict(request))
        return case_message(await self._call(self._app.marac_case, ref.case_id))

    async def ListActions(self, request, context):
        ref = commands.parse(commands.CaseRef, proto_to_dict(request))
        actions = await self._call(self._app.actions, ref.case_id)
        return marac_pb2.ListActionsResponse(actions=[action_message(a) for a in actions])

    async def _meeting_message(self, m: Meeting) -> marac_pb2.Meeting:
        previous = await self._call(self._app.previous_cut_off, m)
        message = marac_pb2.Meeting(
            meeting_id=str(m.id), area=m.area, meeting_date=m.meeting_date, cut_off_at=to_timestamp(m.cut_off_at),
            attendance=[
                marac_pb2.Attendance(
                    agency=agency, representative=a["representative"],
                    status=marac_pb2.AttendanceStatus.Value(a["status"]), recorded_at=to_timestamp(a["recorded_at"]),
                )
                for agency, a in sorted(m.attendance.items())
            ],
        )
        if previous is not None:
            message.previous_cut_off_at.CopyFrom(to_timestamp(previous))
        return message


def entry_message(e: dict[str, Any]) -> marac_pb2.CaseListEntry:
    return marac_pb2.CaseListEntry(
        case_id=e["case_id"], referral_id=e["referral_id"], repeat=e.get("repeat", False),
        risk_grade=e.get("risk_grade", ""), criteria=e.get("criteria", []), children_count=e.get("children_count", 0),
        referring_agency=e.get("referring_agency", ""), listed_at=to_timestamp(e["listed_at"]),
        transferred_from=e["transferred_from"],
    )


def action_message(a: Action) -> marac_pb2.Action:
    message = marac_pb2.Action(
        action_id=str(a.id), case_id=a.case_id, meeting_id=a.meeting_id, owning_agency=a.owning_agency,
        kind=marac_pb2.ActionKind.Value(a.kind), description=a.description, due_date=a.deadline["due_date"],
        deadline=deadline_with_clock(a.deadline), source=marac_pb2.ActionSource.Value(a.source),
        status=marac_pb2.ActionStatus.Value(a.status), measures=[repairs_pb2.Measure.Value(m) for m in a.measures],
        agreed_by_agency=a.agreed_by["agency"], agreed_at=to_timestamp(a.agreed_at), completion_note=a.completion_note,
        on_time=a.on_time, reopened_count=len(a.reopened), area=a.area,
    )
    if a.completed_at is not None:
        message.completed_at.CopyFrom(to_timestamp(a.completed_at))
    return message


def case_message(c: MaracCase) -> marac_pb2.MaracCase:
    return marac_pb2.MaracCase(
        case_id=c.case_id, area=c.area,
        referrals=[
            marac_pb2.Referral(
                referral_id=r["referral_id"], area=r["area"], risk_grade=r["risk_grade"], criteria=r["criteria"],
                children_count=r["children_count"], referring_agency=r["referring_agency"], repeat=r["repeat"],
                received_at=to_timestamp(r["received_at"]),
            )
            for r in c.referrals
        ],
        information_shared=[
            marac_pb2.SharedInformation(
                meeting_id=i["meeting_id"], agency=i["agency"],
                categories=[marac_pb2.InformationCategory.Value(x) for x in i["categories"]], summary=i["summary"],
                recorded_at=to_timestamp(i["recorded_at"]),
            )
            for i in c.information_shared
        ],
        transfers=[
            marac_pb2.Transfer(
                from_area=t["from_area"], to_area=t["to_area"], transferred_at=to_timestamp(t["transferred_at"]),
                open_action_ids=t["open_action_ids"],
            )
            for t in c.transfers
        ],
    )


def register(app: MaracApplication):
    servicer = MaracServicer(app)
    return lambda server: marac_pb2_grpc.add_MaracServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [marac_pb2.DESCRIPTOR.services_by_name["MaracService"].full_name]
