"""Repairs' commands as validated models: what a well-formed request must hold."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from caseplatform.validation import StrictCommand as Strict
from caseplatform.validation import parse_command
from caseplatform.validation import require_enum_set as _set
from repairs.domain.work_order import ApproverRole, Measure, Priority, Source, Stage

M = TypeVar("M", bound=BaseModel)


_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$"


class RaiseWorkOrder(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    case_id: UUID
    measures: list[Measure] = Field(min_length=1, max_length=len(Measure))
    priority: Priority
    reason: str = Field(min_length=1, max_length=2000)
    source: Source
    joint_tenancy: bool = False

    @field_validator("measures", mode="before")
    @classmethod
    def _measures(cls, value: object) -> object:
        if isinstance(value, list):
            for m in value:
                _set(m, "the measures catalogue")
            if len(set(value)) != len(value):
                raise ValueError("lists a measure twice")
        return value

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: object) -> object:
        return _set(value, "EMERGENCY, SECURITY or ROUTINE")

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> object:
        return _set(value, "INITIAL_ASSESSMENT, MARAC_ACTION, DACC_OUTCOME or CSO")


class AttachEvidence(Strict):
    work_order_id: UUID
    stage: Stage
    content: bytes = Field(min_length=1)
    content_type: str = Field(pattern=r"^(image/[A-Za-z0-9.+-]+|application/pdf)$")

    @field_validator("stage", mode="before")
    @classmethod
    def _stage(cls, value: object) -> object:
        return _set(value, "BEFORE or AFTER")


class AssignContractor(Strict):
    work_order_id: UUID
    contractor: str = Field(min_length=1, max_length=128, pattern=_ID)


class ApproveLockChange(Strict):
    work_order_id: UUID
    approver_role: ApproverRole
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("approver_role", mode="before")
    @classmethod
    def _role(cls, value: object) -> object:
        return _set(value, "APPROVER_CSO or APPROVER_LINE_MANAGER")


class WorkOrderRef(Strict):
    work_order_id: UUID


class CancelWorkOrder(Strict):
    work_order_id: UUID
    reason: str = Field(min_length=1, max_length=2000)


class ReportProgress(Strict):
    work_order_id: UUID
    note: str = Field(min_length=1, max_length=2000)


def parse(model: type[M], data: dict[str, Any]) -> M:
    return parse_command(model, data)
