"""ReferralApplication: requires the referrals a case's events call for."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.deadlines import deadline as make_deadline
from caseplatform.deadlines import deadline_from_message
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from casework.referral.v1 import referral_pb2
from referral.domain.referral import (
    CHILDRENS_MARF,
    LOCAL_AUTHORITY_DUTY_TEAM,
    Referral,
    childrens_referral_reason,
)

CHILDRENS_REFERRAL_DEADLINE = "CHILDRENS_REFERRAL"


class ReferralApplication(ServiceApplication):
    def __init__(
        self, settings: PlatformSettings, calendar: WorkingDayCalendar | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__("referral", settings, env)
        self.calendar = calendar or WorkingDayCalendar()

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if isinstance(event.payload, intake_events.DisclosureReceived):
            self._children_referral(event.payload, unit)

    def _children_referral(self, disclosure: intake_events.DisclosureReceived, unit: Unit) -> None:
        if not disclosure.children_ages:
            return
        if unit.get(Referral.create_id(disclosure.case_id, CHILDRENS_MARF)) is not None:
            return
        # The deadline was started by intake when the disclosure was received (same day);
        # should an older event lack it, the same rule is applied here rather than no deadline.
        started = next((d for d in disclosure.deadlines if d.kind == CHILDRENS_REFERRAL_DEADLINE), None)
        deadline = (
            deadline_from_message(started)
            if started is not None
            else make_deadline(CHILDRENS_REFERRAL_DEADLINE, self.calendar.due_same_day(from_timestamp(disclosure.received_at)))
        )
        unit.collect(
            Referral(
                case_id=disclosure.case_id,
                referral_type=CHILDRENS_MARF,
                target_agency=LOCAL_AUTHORITY_DUTY_TEAM,
                reason=childrens_referral_reason(len(disclosure.children_ages)),
                deadline=deadline,
                meta=unit.meta(),
            )
        )

    def referrals_for(self, case_id: UUID) -> list[Referral]:
        found = []
        for referral_type in referral_pb2.ReferralType.keys()[1:]:
            try:
                found.append(self.repository.get(Referral.create_id(str(case_id), referral_type)))
            except AggregateNotFoundError:
                continue
        return found
