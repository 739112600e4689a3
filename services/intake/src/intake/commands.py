"""Intake's commands as validated models: what a well-formed request must hold."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# UK postcode shape (Royal Mail format); existence is the patch register's business.
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")


class Channel(StrEnum):
    VICTIM_DIRECT = "VICTIM_DIRECT"
    VICTIM_INDIRECT = "VICTIM_INDIRECT"
    THIRD_PARTY = "THIRD_PARTY"
    POLICE_DACC = "POLICE_DACC"
    AGENCY_REQUEST = "AGENCY_REQUEST"
    STAFF = "STAFF"


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class Address(Strict):
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(max_length=10)

    @field_validator("postcode")
    @classmethod
    def _uk_postcode(cls, value: str) -> str:
        normalised = value.upper()
        if not UK_POSTCODE.match(normalised):
            raise ValueError("is not a UK postcode (e.g. NP4 6YB)")
        return normalised


class Victim(Strict):
    tenant_ref: str = Field(default="", max_length=64)
    name: str = Field(min_length=1, max_length=200)
    address: Address


class Child(Strict):
    age: int = Field(ge=0, le=17, description="whole years; a child is under 18")


class SubmitDisclosure(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    received_at: AwareDatetime
    channel: Channel
    victim: Victim
    children: list[Child] = Field(default_factory=list, max_length=30)

    @field_validator("channel", mode="before")
    @classmethod
    def _not_unspecified(cls, value: object) -> object:
        if value in ("CHANNEL_UNSPECIFIED", 0):
            raise ValueError("must be set (VICTIM_DIRECT, VICTIM_INDIRECT, THIRD_PARTY, POLICE_DACC, AGENCY_REQUEST or STAFF)")
        return value

    def received_in_future(self, now: datetime, tolerance_s: float = 300) -> bool:
        return (self.received_at - now).total_seconds() > tolerance_s
