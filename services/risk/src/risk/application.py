"""RiskApplication: opens each case's risk record when intake reports a disclosure."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.deadlines import deadline
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.errors import NotFound
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from risk.domain.assessment import RISK_ASSESSMENT, RiskAssessment


class RiskApplication(ServiceApplication):
    def __init__(
        self, settings: PlatformSettings, calendar: WorkingDayCalendar | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__("risk", settings, env)
        self.calendar = calendar or WorkingDayCalendar()

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if isinstance(event.payload, intake_events.DisclosureReceived):
            self._open_record(event.payload, unit)

    def _open_record(self, disclosure: intake_events.DisclosureReceived, unit: Unit) -> None:
        if unit.get(RiskAssessment.create_id(disclosure.case_id)) is not None:
            return  # already open: the same disclosure seen twice changes nothing
        due = self.calendar.due_after_working_days(from_timestamp(disclosure.received_at), 1)
        unit.collect(
            RiskAssessment(case_id=disclosure.case_id, deadline=deadline(RISK_ASSESSMENT, due), meta=unit.meta())
        )

    def risk_record(self, case_id: UUID) -> RiskAssessment:
        try:
            return self.repository.get(RiskAssessment.create_id(str(case_id)))
        except AggregateNotFoundError:
            raise NotFound("risk record for case", str(case_id)) from None
