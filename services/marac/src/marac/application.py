"""MaracApplication: MARAC areas and meetings, their case lists (from referral's MARAC referrals),
attendance, information shared, the multi-agency action plan and MARAC-to-MARAC transfers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform import access
from caseplatform.calendar import WorkingDayCalendar
from caseplatform.clock import process_clock
from caseplatform.concurrency import retry_on_conflict
from caseplatform.deadlines import deadline
from caseplatform.envelope import IncomingEvent
from caseplatform.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from caseplatform.identity import Actor, current_actor
from caseplatform.inbox import Unit
from caseplatform.marac_areas import MaracAreas
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from casework.referral.v1 import events_pb2 as referral_events
from marac import commands
from marac.domain.action import (
    DEADLINE_KIND,
    Action,
    ActionPlan,
    ActionSource,
    action_id_for,
    clock_id,
)
from marac.domain.area import Area
from marac.domain.case_file import CaseFile
from marac.domain.marac_case import MaracCase
from marac.domain.meeting import Meeting
from marac.domain.rules import ABSENCE_WINDOW, AttendanceStatus, absences, persistently_absent
from marac.referrals import receive_marac_referral
from marac.settings import MaracSettings

T = TypeVar("T")
REQUEST_HASH_VERSION = "v1"


class MaracApplication(ServiceApplication):
    # An area's aggregate gains an event for every meeting and every case listed, for ever:
    # snapshots keep loading it from replaying more than this many events.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Area: 100}

    def __init__(
        self,
        settings: PlatformSettings,
        env: dict[str, str] | None = None,
        marac_settings: MaracSettings | None = None,
        calendar: WorkingDayCalendar | None = None,
    ) -> None:
        super().__init__("marac", settings, env)
        self.marac_settings = marac_settings or MaracSettings()
        self.calendar = calendar or WorkingDayCalendar()
        self.areas = MaracAreas.configured()  # the cycles referral's deadlines use too

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if isinstance(event.payload, intake_events.DisclosureReceived):
            disclosure = event.payload
            if unit.get(CaseFile.create_id(disclosure.case_id)) is None:
                unit.collect(
                    CaseFile(
                        case_id=disclosure.case_id,
                        postcode_district=disclosure.postcode_district,
                        children_count=len(disclosure.children_ages),
                        meta=unit.meta(),
                    )
                )
        elif isinstance(event.payload, referral_events.ReferralSent):
            receive_marac_referral(event, unit, self.calendar)

    # -- meetings --------------------------------------------------------------------------

    def schedule_meeting(self, command: commands.ScheduleMeeting, actor: Actor) -> tuple[Meeting, bool]:
        def attempt() -> tuple[Meeting, bool]:
            area = self._get(Area.create_id(command.area)) or Area(area=command.area, meta=self.meta(actor))
            day = command.meeting_date or self._next_meeting_date(area)
            existing = self._get(Meeting.create_id(command.area, day.isoformat()))
            if existing is not None:
                return existing, False
            cut_off = command.cut_off_at or self.calendar.end_of_day(self._cut_off_day(command.area, day))
            if cut_off > self.calendar.end_of_day(day):
                raise InvalidArgument.one("cut_off_at", "must not be after the meeting")
            meeting = Meeting(area=command.area, meeting_date=day.isoformat(), cut_off_at=cut_off, meta=self.meta(actor))
            area.add_meeting(meeting_id=str(meeting.id), meeting_date=day.isoformat(), cut_off_at=cut_off, meta=self.meta(actor))
            self.save(meeting, area)
            return meeting, True

        return _retrying(attempt)

    def _next_meeting_date(self, area: Area) -> date:
        """The area's next meeting on its cycle: after the last one scheduled, else from today."""
        last = area.last_meeting_date()
        after = date.fromisoformat(last) + timedelta(days=1) if last else self.calendar.local_date(process_clock().now())
        return next(self.areas.for_area(area.area).meetings_from(after))

    def _cut_off_day(self, area: str, meeting_day: date) -> date:
        return self.areas.for_area(area).cutoff_for(meeting_day, self.calendar)

    def record_attendance(self, command: commands.RecordAttendance, actor: Actor) -> Meeting:
        def attempt() -> Meeting:
            meeting = self.meeting(command.meeting_id)
            changed = meeting.record_attendance(
                agency=command.agency, representative=command.representative, status=command.status.value,
                recorded_at=process_clock().now(), meta=self.meta(actor),
            )
            if not changed:
                return meeting
            area = self._area(meeting.area)
            self._report_persistent_absence(area, meeting, command.agency, actor)
            self.save(meeting, area)
            return meeting

        return _retrying(attempt)

    def _report_persistent_absence(self, area: Area, meeting: Meeting, agency: str, actor: Actor) -> None:
        if meeting.status_of(agency) != AttendanceStatus.ABSENT or area.absence_reported(agency, str(meeting.id)):
            return
        last = area.meetings_up_to(str(meeting.id))[-ABSENCE_WINDOW:]
        statuses = [meeting.status_of(agency) if m == str(meeting.id) else self.meeting(UUID(m)).status_of(agency) for m in last]
        if persistently_absent(statuses):
            area.report_persistent_absence(
                area=area.area, agency=agency, meeting_id=str(meeting.id), absences=absences(statuses),
                of_meetings=len(statuses), meta=self.meta(actor),
            )

    def record_information_shared(self, command: commands.RecordInformationShared, actor: Actor) -> MaracCase:
        if access.caller_scope() is access.Scope.SHARED and command.agency != actor.agency:
            raise PermissionDenied("a partner agency records only what it shared itself")

        def attempt() -> MaracCase:
            meeting = self.meeting(command.meeting_id)
            case = self.marac_case(command.case_id)
            if case.area != meeting.area:
                raise PreconditionFailed(f"the case is at the {case.area} MARAC, not {meeting.area}")
            case.share_information(
                case_id=case.case_id, meeting_id=str(meeting.id), agency=command.agency,
                categories=[c.value for c in command.categories], summary=command.summary,
                recorded_by=actor.as_dict(), recorded_at=process_clock().now(), meta=self.meta(actor),
            )
            self.save(case)
            return case

        return _retrying(attempt)

    # -- the action plan -------------------------------------------------------------------

    def agree_action(self, command: commands.AgreeAction, actor: Actor) -> tuple[Action, bool]:
        request_hash = hashlib.sha256(f"{REQUEST_HASH_VERSION}:{command.model_dump_json()}".encode()).hexdigest()
        action_id = action_id_for(str(command.case_id), actor.agency, command.idempotency_key)

        def attempt() -> tuple[Action, bool]:
            existing = self._get(action_id)
            if existing is not None:
                if existing.request_hash != request_hash:
                    raise Conflict("idempotency_key was already used for a different action on this case")
                return existing, False
            case_id = str(command.case_id)
            area = self._action_area(command, case_id)
            now = process_clock().now()
            if command.due_date < self.calendar.local_date(now):
                raise InvalidArgument.one("due_date", "is in the past")
            plan = self._get(ActionPlan.create_id(case_id)) or ActionPlan(case_id=case_id, meta=self.meta(actor))
            action = Action(
                action_id=action_id, case_id=case_id,
                meeting_id=str(command.meeting_id) if command.meeting_id else "", area=area,
                owning_agency=command.owning_agency,
                landlord_owned=command.owning_agency == self.marac_settings.landlord_agency,
                kind=command.kind.value, source=command.source.value, description=command.description,
                measures=[m.value for m in command.measures], deadline=self._deadline(action_id, command.due_date, 0),
                agreed_by=actor.as_dict(), agreed_at=now, request_hash=request_hash, meta=self.meta(actor),
            )
            plan.file(action_id=str(action_id), meta=self.meta(actor))
            self.save(action, plan)
            return action, True

        return _retrying(attempt)

    def _action_area(self, command: commands.AgreeAction, case_id: str) -> str:
        """The area whose MARAC agreed the action; the case must be known to marac."""
        case = self._get(MaracCase.create_id(case_id))
        if case is None and self._get(CaseFile.create_id(case_id)) is None:
            raise NotFound("marac case", case_id)
        if command.meeting_id is None:
            return case.area if case is not None else ""
        meeting = self.meeting(command.meeting_id)
        if command.source != ActionSource.MARAC_MEETING:
            return meeting.area
        if case is not None and case.area != meeting.area:
            raise PreconditionFailed(f"the case is at the {case.area} MARAC, not {meeting.area}")
        return meeting.area

    def _deadline(self, action_id: UUID, due: date, reopened: int) -> dict[str, str]:
        d = deadline(DEADLINE_KIND, (due, self.calendar.end_of_day(due)))
        return {**d, "clock_id": clock_id(action_id, reopened)}

    def complete_action(self, command: commands.CompleteAction, actor: Actor) -> Action:
        def attempt() -> Action:
            action = self.action(command.action_id)
            _require_own_action(action, actor)
            action.complete(
                note=command.completion_note, completed_by=actor.as_dict(), completed_at=process_clock().now(),
                meta=self.meta(actor),
            )
            self.save(action)
            return action

        return _retrying(attempt)

    def reopen_action(self, command: commands.ReopenAction, actor: Actor) -> Action:
        def attempt() -> Action:
            action = self.action(command.action_id)
            now = process_clock().now()
            due = command.due_date or date.fromisoformat(action.deadline["due_date"])
            if due < self.calendar.local_date(now):
                raise InvalidArgument.one("due_date", "is in the past: give the reopened action a new due date")
            action.reopen(
                reason=command.reason, deadline=self._deadline(action.id, due, len(action.reopened) + 1),
                reopened_at=now, meta=self.meta(actor),
            )
            self.save(action)
            return action

        return _retrying(attempt)

    # -- transfer --------------------------------------------------------------------------

    def transfer_case(self, command: commands.TransferCase, actor: Actor) -> MaracCase:
        def attempt() -> MaracCase:
            case = self.marac_case(command.case_id)
            from_area = case.area
            now = process_clock().now()
            open_ids = [str(a.id) for a in self.actions(command.case_id) if a.is_open]
            case.transfer(to_area=command.to_area, reason=command.reason, open_action_ids=open_ids, transferred_at=now, meta=self.meta(actor))
            to_area = self._get(Area.create_id(command.to_area)) or Area(area=command.to_area, meta=self.meta(actor))
            latest = case.latest_referral
            to_area.register_case(
                case_id=case.case_id, referral_id=latest["referral_id"] if latest else "", listed_at=now,
                transferred_from=from_area, meta=self.meta(actor),
            )
            self.save(case, to_area)
            return case

        return _retrying(attempt)

    # -- queries ---------------------------------------------------------------------------

    def case_file(self, case_id: UUID) -> CaseFile:
        found = self._get(CaseFile.create_id(str(case_id)))
        if found is None:
            raise NotFound("marac case file for case", str(case_id))
        return found

    def meeting(self, meeting_id: UUID) -> Meeting:
        found = self._get(meeting_id)
        if not isinstance(found, Meeting):
            raise NotFound("meeting", str(meeting_id))
        return found

    def previous_cut_off(self, meeting: Meeting):
        """Where the meeting's case list starts: the area's previous cut-off (None for its first)."""
        return self._area(meeting.area).previous_cut_off(str(meeting.id))

    def case_list(self, meeting_id: UUID) -> list[dict[str, Any]]:
        """The meeting's case list: each listed case with its MARAC referral's details."""
        meeting = self.meeting(meeting_id)
        entries = []
        for listed in self._area(meeting.area).case_list(str(meeting.id)):
            case = self.marac_case(UUID(listed["case_id"]))
            referral = next((r for r in case.referrals if r["referral_id"] == listed["referral_id"]), {})
            entries.append({**referral, **listed})
        return entries

    def marac_case(self, case_id: UUID) -> MaracCase:
        found = self._get(MaracCase.create_id(str(case_id)))
        if found is None:
            raise NotFound("MARAC case", str(case_id))
        return found

    def action(self, action_id: UUID) -> Action:
        found = self._get(action_id)
        if not isinstance(found, Action):
            raise NotFound("action", str(action_id))
        return found

    def actions(self, case_id: UUID) -> list[Action]:
        """The case's action plan; a partner agency sees only the actions its agency owns."""
        plan = self._get(ActionPlan.create_id(str(case_id)))
        found = [self.action(UUID(i)) for i in plan.action_ids] if plan is not None else []
        caller = current_actor.get()
        if access.caller_scope() is access.Scope.SHARED and caller is not None:
            found = [a for a in found if a.owning_agency == caller.agency]
        return found

    # -- helpers ---------------------------------------------------------------------------

    def _area(self, area: str) -> Area:
        found = self._get(Area.create_id(area))
        if found is None:
            raise NotFound("MARAC area", area)
        return found

    def _get(self, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


def _retrying(attempt: Callable[[], T]) -> T:
    """Run a load-change-save again when a concurrent writer saved the same aggregate first."""
    return retry_on_conflict(attempt)()


def _require_own_action(action: Action, actor: Actor) -> None:
    """A partner completes only its own agency's actions; a CHO only on their own patch's cases."""
    if access.caller_scope() is access.Scope.SHARED and action.owning_agency != actor.agency:
        raise PermissionDenied("this action is owned by another agency")
    access.require_case(action.case_id)
