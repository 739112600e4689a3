"""The Action aggregate: one item of a case's multi-agency action plan — agreed at a MARAC meeting
or requested by another agency (seed 001 §8) — with an owning agency and a due date, tracked to
completion. A completion note is required (seed 001 §8: "together with a completion note").

The due date is a deadline (kind MARAC_ACTION, one clock per action); reopening starts a new clock.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.errors import InvalidArgument, PreconditionFailed
from caseplatform.ids import stable_id

DEADLINE_KIND = "MARAC_ACTION"


class ActionKind(StrEnum):
    TARGET_HARDENING = "TARGET_HARDENING"
    CONFIRM_TENANCY_STATUS = "CONFIRM_TENANCY_STATUS"
    CHECK_ASB_HISTORY = "CHECK_ASB_HISTORY"
    REHOUSE = "REHOUSE"
    TENANCY_ADVICE = "TENANCY_ADVICE"
    OTHER = "OTHER"


class ActionSource(StrEnum):
    MARAC_MEETING = "MARAC_MEETING"
    AGENCY_REQUEST = "AGENCY_REQUEST"


class ActionStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"


def action_id_for(case_id: str, agency: str, idempotency_key: str) -> UUID:
    return stable_id("marac", "action", case_id, agency, idempotency_key)


def clock_id(action_id: UUID | str, reopened: int = 0) -> str:
    base = f"marac-action:{action_id}"
    return base if reopened == 0 else f"{base}:reopened-{reopened}"


class Action(CaseAggregate):
    @staticmethod
    def create_id(action_id: UUID, **_: Any) -> UUID:
        return action_id

    @event("ActionAgreed")
    def __init__(
        self, *, action_id: UUID, case_id: str, meeting_id: str, area: str, owning_agency: str, landlord_owned: bool,
        kind: str, source: str, description: str, measures: list[str], deadline: dict[str, str],
        agreed_by: dict[str, str], agreed_at: datetime, request_hash: str, meta: dict[str, Any],
    ) -> None:
        self.case_id = case_id
        self.meeting_id = meeting_id
        self.area = area
        self.owning_agency = owning_agency
        self.landlord_owned = landlord_owned
        self.kind = kind
        self.source = source
        self.description = description
        self.measures = list(measures)
        self.deadline = deadline
        self.agreed_by = agreed_by
        self.agreed_at = agreed_at
        self.request_hash = request_hash
        self.status = ActionStatus.OPEN.value
        self.completion_note = ""
        self.completed_at: datetime | None = None
        self.on_time = False
        self.reopened: list[dict[str, Any]] = []

    @property
    def is_open(self) -> bool:
        return self.status == ActionStatus.OPEN

    def complete(self, *, note: str, completed_by: dict[str, str], completed_at: datetime, meta: dict[str, Any]) -> None:
        note = note.strip()
        if not note:
            raise InvalidArgument.one("completion_note", "is required: record what was done")
        if not self.is_open:
            if note == self.completion_note:
                return  # the same completion again
            raise PreconditionFailed("the action is already completed (ReopenAction first)")
        on_time = completed_at <= datetime.fromisoformat(self.deadline["due_at"])
        self._completed(
            case_id=self.case_id, owning_agency=self.owning_agency, kind=self.kind, note=note, completed_by=completed_by, completed_at=completed_at,
            deadline=self.deadline, on_time=on_time, meta=meta,
        )

    @event("ActionCompleted")
    def _completed(
        self, *, case_id: str, owning_agency: str, kind: str, note: str, completed_by: dict[str, str], completed_at: datetime,
        deadline: dict[str, str], on_time: bool, meta: dict[str, Any],
    ) -> None:
        self.status = ActionStatus.COMPLETED.value
        self.completion_note = note
        self.completed_at = completed_at
        self.on_time = on_time

    def reopen(self, *, reason: str, deadline: dict[str, str], reopened_at: datetime, meta: dict[str, Any]) -> None:
        if self.is_open:
            raise PreconditionFailed("the action is open: only a completed action is reopened")
        self._reopened(
            case_id=self.case_id, owning_agency=self.owning_agency, kind=self.kind, reason=reason, deadline=deadline,
            reopened_at=reopened_at, meta=meta,
        )

    @event("ActionReopened")
    def _reopened(
        self, *, case_id: str, owning_agency: str, kind: str, reason: str, deadline: dict[str, str], reopened_at: datetime, meta: dict[str, Any]
    ) -> None:
        self.reopened.append({"reason": reason, "reopened_at": reopened_at, "previous_note": self.completion_note})
        self.status = ActionStatus.OPEN.value
        self.deadline = deadline
        self.completion_note = ""
        self.completed_at = None
        self.on_time = False


class ActionPlan(CaseAggregate):
    """The ids of a case's actions, for ListActions (not published)."""

    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("marac", "action-plan", case_id)

    @event("ActionPlanOpened")
    def __init__(self, *, case_id: str, meta: dict[str, Any]) -> None:
        self.case_id = case_id
        self.action_ids: list[str] = []

    @event("ActionFiled")
    def file(self, *, action_id: str, meta: dict[str, Any]) -> None:
        if action_id not in self.action_ids:
            self.action_ids.append(action_id)
