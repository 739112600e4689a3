"""MaracApplication: keeps a case file for every disclosed case."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.envelope import IncomingEvent
from caseplatform.errors import NotFound
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from marac.domain.case_file import CaseFile


class MaracApplication(ServiceApplication):
    def __init__(self, settings: PlatformSettings, env: dict[str, str] | None = None) -> None:
        super().__init__("marac", settings, env)

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

    def case_file(self, case_id: UUID) -> CaseFile:
        try:
            return self.repository.get(CaseFile.create_id(str(case_id)))
        except AggregateNotFoundError:
            raise NotFound("marac case file for case", str(case_id)) from None
