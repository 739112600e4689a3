"""Marac's commands as validated models: what a well-formed request must hold."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from caseplatform.errors import InvalidArgument
from caseplatform.validation import StrictCommand as Strict
from caseplatform.validation import parse_command
from caseplatform.validation import require_enum_set as _set
from casework.repairs.v1 import repairs_pb2
from marac.domain.action import ActionKind, ActionSource
from marac.domain.rules import AttendanceStatus

M = TypeVar("M", bound=BaseModel)

# The repairs measures catalogue, by name (the contract's enum; marac does not import repairs).
Measure = StrEnum("Measure", {v.name: v.name for v in repairs_pb2.Measure.DESCRIPTOR.values if v.number})  # type: ignore[misc]


class InformationCategory(StrEnum):
    RISK_HISTORY = "RISK_HISTORY"
    CHILDREN_SAFEGUARDING = "CHILDREN_SAFEGUARDING"
    TENANCY = "TENANCY"
    HEALTH = "HEALTH"
    CRIMINAL_JUSTICE = "CRIMINAL_JUSTICE"
    SUPPORT_ENGAGEMENT = "SUPPORT_ENGAGEMENT"
    OTHER_INFORMATION = "OTHER_INFORMATION"




def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# An area or agency code, e.g. "blaenau-gwent", "gwent-police" (case-insensitive).
Slug = Annotated[str, BeforeValidator(_lower), Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class ScheduleMeeting(Strict):
    area: Slug
    meeting_date: date | None = None
    cut_off_at: AwareDatetime | None = None



class MeetingRef(Strict):
    meeting_id: UUID


class CaseRef(Strict):
    case_id: UUID


class RecordAttendance(Strict):
    meeting_id: UUID
    agency: Slug
    representative: str = Field(min_length=1, max_length=200)
    status: AttendanceStatus


    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        return _set(value, "PRESENT, ABSENT or DEPUTY")


class RecordInformationShared(Strict):
    meeting_id: UUID
    case_id: UUID
    agency: Slug
    categories: list[InformationCategory] = Field(min_length=1, max_length=len(InformationCategory))
    summary: str = Field(min_length=1, max_length=4000)
    relevant_and_proportionate: bool = Field(default=False, validate_default=True)


    @field_validator("categories", mode="before")
    @classmethod
    def _categories(cls, value: object) -> object:
        if isinstance(value, list):
            for c in value:
                _set(c, "the information categories")
        return value

    @field_validator("relevant_and_proportionate")
    @classmethod
    def _confirmed(cls, value: bool) -> bool:
        if not value:
            raise ValueError("share only what is relevant and proportionate, and confirm it (WASPI)")
        return value


class AgreeAction(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    case_id: UUID
    meeting_id: UUID | None = None
    owning_agency: Slug
    kind: ActionKind
    description: str = Field(min_length=1, max_length=2000)
    due_date: date
    source: ActionSource
    measures: list[Measure] = Field(default_factory=list, max_length=len(Measure))


    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        return _set(value, ", ".join(ActionKind))

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> object:
        return _set(value, "MARAC_MEETING or AGENCY_REQUEST")

    @field_validator("measures", mode="before")
    @classmethod
    def _measures(cls, value: object) -> object:
        if isinstance(value, list):
            for m in value:
                _set(m, "the repairs measures catalogue")
            if len(set(value)) != len(value):
                raise ValueError("lists a measure twice")
        return value

    @model_validator(mode="after")
    def _rules(self) -> AgreeAction:
        # Raised as such (not ValueError) so the violation names its field, not the request.
        if self.source == ActionSource.MARAC_MEETING and self.meeting_id is None:
            raise InvalidArgument.one("meeting_id", "is required for an action agreed at a MARAC meeting")
        if self.kind == ActionKind.TARGET_HARDENING and not self.measures:
            raise InvalidArgument.one("measures", "are required for TARGET_HARDENING (the work order's measures)")
        return self


class CompleteAction(Strict):
    action_id: UUID
    completion_note: str = Field(min_length=1, max_length=4000)


class ReopenAction(Strict):
    action_id: UUID
    reason: str = Field(min_length=1, max_length=2000)
    due_date: date | None = None


class TransferCase(Strict):
    case_id: UUID
    to_area: Slug
    reason: str = Field(min_length=1, max_length=2000)



def parse(model: type[M], data: dict[str, Any]) -> M:
    return parse_command(model, data)
