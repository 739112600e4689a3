"""RiskApplication: opens each case's risk record when intake reports a disclosure, and records
the DASH assessments made of it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.clock import process_clock
from caseplatform.deadlines import deadline
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.errors import Conflict, InvalidArgument, NotFound
from caseplatform.identity import Actor
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from risk.commands import Checklist, RecordDashAssessment
from risk.domain.assessment import RISK_ASSESSMENT, RiskAssessment, assessment_id_for
from risk.domain.grading import Bands, Grading, grade_police_dash, grade_ric
from risk.settings import RiskSettings

# Bump when the command model changes meaning, so a retry across releases is compared with
# like (ADR 0006's caveat on hashing the model).
REQUEST_HASH_VERSION = "v1"


@dataclass(frozen=True)
class Recorded:
    assessment: dict[str, Any]
    created: bool


class RiskApplication(ServiceApplication):
    # A case's assessments gain an event for every DASH and review for as long as it is open:
    # snapshots keep a command from replaying more than this many (ADR 0034).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {RiskAssessment: 100}

    def __init__(
        self,
        settings: PlatformSettings,
        calendar: WorkingDayCalendar | None = None,
        env: dict[str, str] | None = None,
        bands: Bands | None = None,
    ) -> None:
        super().__init__("risk", settings, env)
        self.calendar = calendar or WorkingDayCalendar()
        self.bands = bands or RiskSettings().bands()

    # -- policy: what risk does when other services report --------------------------------

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

    # -- commands ------------------------------------------------------------------------

    def record_dash_assessment(self, command: RecordDashAssessment, actor: Actor) -> Recorded:
        now = process_clock().now()
        if command.completed_in_future(now):
            raise InvalidArgument.one("completed_at", "is in the future")
        request_hash = hashlib.sha256(f"{REQUEST_HASH_VERSION}:{command.model_dump_json()}".encode()).hexdigest()
        assessment_id = str(assessment_id_for(str(command.case_id), actor.agency, command.idempotency_key))
        grading = self.grade(command)
        for _attempt in range(5):
            record = self.risk_record(command.case_id)
            existing = record.find(assessment_id)
            if existing is not None:
                if existing["request_hash"] != request_hash:
                    raise Conflict("idempotency_key was already used for a different assessment of this case")
                return Recorded(existing, created=False)
            record.record_assessment(
                assessment_id=assessment_id,
                request_hash=request_hash,
                checklist=command.checklist.value,
                answers=[{"question": a.question, "answer": a.answer.value} for a in command.answers],
                grading=grading,
                yes_count=command.yes_count,
                source=command.source.value,
                assessed_by=command.assessed_by,
                completed_at=command.completed_at,
                recorded_at=now,
                safe_to_talk=command.safe_to_talk,
                professional_judgement_high=command.professional_judgement_high,
                professional_judgement_reason=command.professional_judgement_reason,
                police_callouts_12_months=command.police_callouts_12_months,
                officer_grade=command.officer_grade.value if command.officer_grade else None,
                police_grade=command.police_grade.value if command.police_grade else None,
                meta=self.meta(actor),
            )
            try:
                self.save(record)
            except IntegrityError:
                continue  # another write to this case's record won: re-read and decide again
            recorded = record.find(assessment_id)
            assert recorded is not None
            return Recorded(recorded, created=True)
        # Not a conflict with the caller's data: the edge reports INTERNAL, "retry with the same key".
        raise RuntimeError("risk record kept changing under concurrent writes")

    def grade(self, command: RecordDashAssessment) -> Grading:
        if command.checklist is Checklist.POLICE_DASH:
            assert command.police_grade is not None  # validated
            return grade_police_dash(
                command.police_grade,
                professional_judgement=command.professional_judgement_high,
                police_callouts=command.police_callouts_12_months,
            )
        return grade_ric(
            command.yes_count,
            professional_judgement=command.professional_judgement_high,
            police_callouts=command.police_callouts_12_months,
            officer_grade=command.officer_grade,
            bands=self.bands,
        )

    # -- queries -------------------------------------------------------------------------

    def risk_record(self, case_id: UUID) -> RiskAssessment:
        try:
            return self.repository.get(RiskAssessment.create_id(str(case_id)))
        except AggregateNotFoundError:
            raise NotFound("risk record for case", str(case_id)) from None
