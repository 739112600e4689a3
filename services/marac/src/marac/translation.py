"""Marac domain events → contract messages on `marac.events.v1`. The only place both meet.

Published: areas, agencies, kinds, grades, criteria, counts, dates and deadlines. Not published:
representatives' names, what was shared, action descriptions, completion notes, reasons, the
victim's subject reference (all stay in marac's store). Area-level events (meetings, attendance,
persistent absence) are about no case: their envelope's case id is empty.
"""

from __future__ import annotations

from typing import Any

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import OutgoingEvent, to_timestamp
from casework.common.v1 import envelope_pb2
from casework.marac.v1 import events_pb2, marac_pb2
from casework.repairs.v1 import repairs_pb2
from marac.domain.action import Action
from marac.domain.area import Area
from marac.domain.case_file import CaseFile
from marac.domain.marac_case import MaracCase
from marac.domain.meeting import Meeting

NO_CASE = ""


def deadline_with_clock(d: dict[str, str]) -> envelope_pb2.Deadline:
    message = deadline_message(d)
    message.clock_id = d.get("clock_id", "")
    return message


PUBLISHED = (
    CaseFile.CaseFileOpened, Meeting.MeetingScheduled, Meeting.AttendanceRecorded, Area.PersistentAbsence,
    MaracCase.ReferralReceived, MaracCase.InformationShared, MaracCase.CaseTransferred,
    Action.ActionAgreed, Action.ActionCompleted, Action.ActionReopened,
)


def publishes(event_class: type) -> bool:
    """The relay decodes no other notification (`to_contract` is None for anything else)."""
    return issubclass(event_class, PUBLISHED)


def to_contract(e: Any) -> OutgoingEvent | None:
    if not isinstance(e, PUBLISHED):
        return None
    payload: Any
    case_id = str(getattr(e, "case_id", NO_CASE))
    if isinstance(e, CaseFile.CaseFileOpened):
        payload = events_pb2.CaseFileOpened(case_id=e.case_id, postcode_district=e.postcode_district)
    elif isinstance(e, Meeting.MeetingScheduled):
        payload = events_pb2.MeetingScheduled(
            meeting_id=str(e.originator_id), area=e.area, meeting_date=e.meeting_date, cut_off_at=to_timestamp(e.cut_off_at)
        )
    elif isinstance(e, Meeting.AttendanceRecorded):
        payload = events_pb2.AttendanceRecorded(
            meeting_id=str(e.originator_id), area=e.area, agency=e.agency, status=marac_pb2.AttendanceStatus.Value(e.status)
        )
    elif isinstance(e, Area.PersistentAbsence):
        payload = events_pb2.PersistentAbsence(
            area=e.area, agency=e.agency, meeting_id=e.meeting_id, absences=e.absences, of_meetings=e.of_meetings
        )
    elif isinstance(e, MaracCase.ReferralReceived):
        payload = events_pb2.CaseListed(
            case_id=e.case_id, area=e.area, referral_id=e.referral_id, repeat=e.repeat, risk_grade=e.risk_grade,
            criteria=e.criteria, children_count=e.children_count, referring_agency=e.referring_agency,
            listed_at=to_timestamp(e.received_at),
        )
    elif isinstance(e, MaracCase.InformationShared):
        payload = events_pb2.InformationShared(
            meeting_id=e.meeting_id, case_id=e.case_id, agency=e.agency,
            categories=[marac_pb2.InformationCategory.Value(c) for c in e.categories],
        )
    elif isinstance(e, MaracCase.CaseTransferred):
        payload = events_pb2.CaseTransferred(
            case_id=e.case_id, from_area=e.from_area, to_area=e.to_area, open_action_ids=e.open_action_ids,
            transferred_at=to_timestamp(e.transferred_at),
        )
    else:
        return _action_event(e)
    return OutgoingEvent(case_id, payload, occurred_at=e.timestamp)


def _action_event(e: Any) -> OutgoingEvent | None:
    payload: Any
    if isinstance(e, Action.ActionAgreed):
        payload = events_pb2.ActionAgreed(
            action_id=str(e.originator_id), case_id=e.case_id, meeting_id=e.meeting_id, area=e.area,
            owning_agency=e.owning_agency, landlord_owned=e.landlord_owned,
            kind=marac_pb2.ActionKind.Value(e.kind), source=marac_pb2.ActionSource.Value(e.source),
            deadline=deadline_with_clock(e.deadline), measures=[repairs_pb2.Measure.Value(m) for m in e.measures],
        )
    elif isinstance(e, Action.ActionCompleted):
        met = envelope_pb2.DeadlineMet(
            kind=e.deadline["kind"], clock_id=e.deadline.get("clock_id", ""), met_at=to_timestamp(e.completed_at),
            on_time=e.on_time,
        )
        payload = events_pb2.ActionCompleted(
            action_id=str(e.originator_id), case_id=e.case_id, owning_agency=e.owning_agency,
            kind=marac_pb2.ActionKind.Value(e.kind), completed_at=to_timestamp(e.completed_at), deadlines_met=[met],
        )
    elif isinstance(e, Action.ActionReopened):
        payload = events_pb2.ActionReopened(
            action_id=str(e.originator_id), case_id=e.case_id, owning_agency=e.owning_agency,
            kind=marac_pb2.ActionKind.Value(e.kind), deadline=deadline_with_clock(e.deadline),
        )
    else:
        return None
    return OutgoingEvent(e.case_id, payload, occurred_at=e.timestamp)
