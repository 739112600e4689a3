"""IntakeApplication: the commands and queries of intake, over its event store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.clock import process_clock
from caseplatform.errors import Conflict, InvalidArgument, NotFound
from caseplatform.identity import Actor
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from intake.commands import SubmitDisclosure
from intake.domain.case import Case
from intake.domain.deadlines import disclosure_deadlines


@dataclass(frozen=True)
class Submitted:
    case: Case
    created: bool


class IntakeApplication(ServiceApplication):
    def __init__(
        self,
        settings: PlatformSettings,
        calendar: WorkingDayCalendar | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__("intake", settings, env)
        self.calendar = calendar or WorkingDayCalendar()

    def submit_disclosure(self, command: SubmitDisclosure, actor: Actor) -> Submitted:
        if command.received_in_future(process_clock().now()):
            raise InvalidArgument.one("received_at", "is in the future")
        request_hash = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        case_id = Case.create_id(actor.agency, command.idempotency_key)
        existing = self._find(case_id)
        if existing is None:
            case = Case(
                idempotency_scope=actor.agency,
                idempotency_key=command.idempotency_key,
                request_hash=request_hash,
                channel=command.channel.value,
                received_at=command.received_at,
                victim=command.victim.model_dump(),
                children_ages=[child.age for child in command.children],
                deadlines=disclosure_deadlines(command.received_at, bool(command.children), self.calendar),
                meta=self.meta(actor),
            )
            try:
                self.save(case)
                return Submitted(case, created=True)
            except IntegrityError:  # the same key, submitted concurrently: that one won
                existing = self.repository.get(case_id)
        if existing.request_hash != request_hash:
            raise Conflict("idempotency_key was already used for a different disclosure")
        return Submitted(existing, created=False)

    def get_case(self, case_id: UUID) -> Case:
        case = self._find(case_id)
        if case is None:
            raise NotFound("case", str(case_id))
        return case

    def _find(self, case_id: UUID) -> Case | None:
        try:
            return self.repository.get(case_id)
        except AggregateNotFoundError:
            return None
