"""ReportingApplication: builds each case's timeline from every service's events."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.envelope import IncomingEvent
from caseplatform.errors import NotFound
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from reporting.domain.summaries import summarise
from reporting.domain.timeline import CaseTimeline
from reporting.sla_projection import SlaProjection


class ReportingApplication(ServiceApplication):
    def __init__(self, settings: PlatformSettings, env: dict[str, str] | None = None) -> None:
        super().__init__("reporting", settings, env)
        self.sla = SlaProjection(self)  # SLA clocks (ADR 0016)

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        self.sla.policy(event, unit)
        if not event.case_id:
            return
        timeline = unit.get(CaseTimeline.create_id(event.case_id)) or CaseTimeline(case_id=event.case_id)
        timeline.record(
            {
                "event_id": event.envelope.event_id,
                "service": event.source_service,
                "event_type": event.event_type,
                "actor": event.actor.as_dict(),
                "occurred_at": event.occurred_at,
                "recorded_at": event.recorded_at,
                "notification_id": event.notification_id,
                "summary": summarise(event.event_type, event.payload),
            }
        )
        unit.collect(timeline)

    def timeline(self, case_id: UUID) -> CaseTimeline:
        try:
            return self.repository.get(CaseTimeline.create_id(str(case_id)))
        except AggregateNotFoundError:
            raise NotFound("timeline for case", str(case_id)) from None
