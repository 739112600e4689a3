"""The DACC feed's commands as validated models. A bad incident refuses the whole batch (bad
input changes nothing); police address data is accepted as sent (it may be messy) and only
matched when it normalises."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import AwareDatetime, Field, field_validator

from caseplatform.errors import FieldViolation
from caseplatform.validation import require_enum_set as _set
from intake.commands import Strict, TenancyAction

_REF = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$"


class PoliceRiskGrade(StrEnum):
    STANDARD = "STANDARD"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class PartyRole(StrEnum):
    VICTIM = "VICTIM"
    PERPETRATOR = "PERPETRATOR"
    OTHER_PARTY = "OTHER_PARTY"


class Intervention(StrEnum):
    WELFARE_CHECK = "WELFARE_CHECK"
    TARGET_HARDENING = "TARGET_HARDENING"
    SIGNPOSTING = "SIGNPOSTING"


class AsbRole(StrEnum):
    COMPLAINANT = "COMPLAINANT"
    SUBJECT = "SUBJECT"


class PoliceAddress(Strict):
    line1: str = Field(default="", max_length=200)
    line2: str = Field(default="", max_length=200)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=12)


class Party(Strict):
    role: PartyRole
    name: str = Field(default="", max_length=200)
    date_of_birth: date | None = None
    tenant_ref: str = Field(default="", max_length=64)
    home_address: PoliceAddress | None = None
    phone: str = Field(default="", max_length=32, pattern=r"^[0-9 +()-]*$")

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> object:
        return _set(value, "VICTIM, PERPETRATOR or OTHER_PARTY")


class Incident(Strict):
    incident_ref: str = Field(min_length=1, max_length=64, pattern=_REF)
    date: date
    occurred_at: AwareDatetime | None = None
    addresses: list[PoliceAddress] = Field(default_factory=list, max_length=10)
    parties: list[Party] = Field(min_length=1, max_length=20)
    risk_grade: PoliceRiskGrade
    consent_to_share: bool = False

    @field_validator("risk_grade", mode="before")
    @classmethod
    def _grade(cls, value: object) -> object:
        return _set(value, "STANDARD, MEDIUM or HIGH")

    @field_validator("parties")
    @classmethod
    def _a_victim(cls, parties: list[Party]) -> list[Party]:
        if not any(p.role == PartyRole.VICTIM for p in parties):
            raise ValueError("must include a VICTIM")
        return parties


class SubmitIncidents(Strict):
    incidents: list[Incident] = Field(min_length=1, max_length=500)

    def violations(self) -> list[FieldViolation]:
        seen: set[str] = set()
        found = []
        for i, incident in enumerate(self.incidents):
            if incident.incident_ref.upper() in seen:
                found.append(FieldViolation(f"incidents[{i}].incident_ref", "appears twice in the batch"))
            seen.add(incident.incident_ref.upper())
        return found


class AgencyInformation(Strict):
    agency: str = Field(min_length=1, max_length=100, pattern=_REF)
    information: str = Field(default="", max_length=5000)


class RecordDaccOutcome(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    incident_id: str = Field(min_length=1)
    shared: list[AgencyInformation] = Field(default_factory=list, max_length=30)
    interventions: list[Intervention] = Field(default_factory=list, max_length=3)
    target_hardening_measures: list[str] = Field(default_factory=list, max_length=13)
    signposted_to: str = Field(default="", max_length=200)
    welfare_check_due_date: date | None = None

    @field_validator("interventions", mode="before")
    @classmethod
    def _interventions(cls, value: object) -> object:
        if isinstance(value, list):
            for item in value:
                _set(item, "WELFARE_CHECK, TARGET_HARDENING or SIGNPOSTING")
            if len(set(value)) != len(value):
                raise ValueError("lists an intervention twice")
        return value

    @field_validator("target_hardening_measures", mode="before")
    @classmethod
    def _measures(cls, value: object) -> object:
        if isinstance(value, list):
            for item in value:
                _set(item, "the repairs measures catalogue")
        return value

    def violations(self) -> list[FieldViolation]:
        found = []
        hardening = Intervention.TARGET_HARDENING in self.interventions
        if hardening and not self.target_hardening_measures:
            found.append(FieldViolation("target_hardening_measures", "is required when TARGET_HARDENING is offered"))
        if self.target_hardening_measures and not hardening:
            found.append(FieldViolation("target_hardening_measures", "is only for TARGET_HARDENING"))
        if Intervention.SIGNPOSTING in self.interventions and not self.signposted_to:
            found.append(FieldViolation("signposted_to", "is required when SIGNPOSTING is offered"))
        return found


class RecordAsbReport(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    tenant_ref: str = Field(min_length=1, max_length=64)
    role: AsbRole
    category: str = Field(min_length=1, max_length=100)
    reported_on: date
    summary: str = Field(default="", max_length=2000)

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> object:
        return _set(value, "COMPLAINANT or SUBJECT")


class RecordTenancyIssue(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    tenant_ref: str = Field(min_length=1, max_length=64)
    kind: TenancyAction
    noted_on: date
    summary: str = Field(default="", max_length=2000)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        return _set(value, "RENT_ARREARS, ANTISOCIAL_BEHAVIOUR, BREACH_OF_TENANCY or POSSESSION_PROCEEDINGS")


class RecordWelfareVisit(Strict):
    tenant_ref: str = Field(min_length=1, max_length=64)
    task_id: str = Field(min_length=1)
    visited_at: AwareDatetime
