"""Referral's commands as validated models."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from caseplatform.validation import StrictCommand as Strict
from caseplatform.validation import parse_command
from caseplatform.validation import require_enum_set as _set
from referral.domain.pathways import LawfulBasis, Outcome, RehousingRoute

M = TypeVar("M", bound=BaseModel)


class RecordVictimDecision(Strict):
    referral_id: UUID
    accepted: bool = False
    reason: str = Field(default="", max_length=2000)
    at: AwareDatetime | None = None


class MarkSent(Strict):
    referral_id: UUID
    at: AwareDatetime | None = None


class RecordAcknowledgement(Strict):
    referral_id: UUID


class RecordOutcome(Strict):
    referral_id: UUID
    outcome: Outcome
    note: str = Field(default="", max_length=2000)

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome(cls, value: object) -> object:
        return _set(value, "ENGAGED, DECLINED_BY_AGENCY or CLOSED")


class OverrideConsent(Strict):
    referral_id: UUID
    lawful_basis: LawfulBasis
    reason: str = Field(min_length=1, max_length=2000)
    officer_name: str = Field(min_length=1, max_length=200)
    officer_role: str = Field(min_length=1, max_length=100)

    @field_validator("lawful_basis", mode="before")
    @classmethod
    def _basis(cls, value: object) -> object:
        return _set(value, ", ".join(LawfulBasis))


class RecordRehousingDecision(Strict):
    referral_id: UUID
    route: RehousingRoute
    approved: bool = False
    high_priority: bool = False
    reason: str = Field(default="", max_length=2000)

    @field_validator("route", mode="before")
    @classmethod
    def _route(cls, value: object) -> object:
        return _set(value, ", ".join(RehousingRoute))


def parse(model: type[M], data: dict[str, Any]) -> M:
    return parse_command(model, data)
