"""Intake's commands as validated models: what a well-formed request must hold."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field, field_validator

from caseplatform.validation import StrictCommand as Strict

# UK postcode shape (Royal Mail format); existence is the patch register's business.
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
FUTURE_TOLERANCE_S = 300  # clocks of partner systems drift a little


class Channel(StrEnum):
    VICTIM_DIRECT = "VICTIM_DIRECT"
    VICTIM_INDIRECT = "VICTIM_INDIRECT"
    THIRD_PARTY = "THIRD_PARTY"
    POLICE_DACC = "POLICE_DACC"
    AGENCY_REQUEST = "AGENCY_REQUEST"
    STAFF = "STAFF"


class TenancyAction(StrEnum):
    RENT_ARREARS = "RENT_ARREARS"
    ANTISOCIAL_BEHAVIOUR = "ANTISOCIAL_BEHAVIOUR"
    BREACH_OF_TENANCY = "BREACH_OF_TENANCY"
    POSSESSION_PROCEEDINGS = "POSSESSION_PROCEEDINGS"


class SafeContactOutcome(StrEnum):
    ATTEMPTED = "ATTEMPTED"
    MADE = "MADE"
    UNSAFE_TO_CONTACT = "UNSAFE_TO_CONTACT"


class ConsentDecision(StrEnum):
    GIVEN = "GIVEN"
    REFUSED = "REFUSED"
    WITHDRAWN = "WITHDRAWN"



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
    date_of_birth: date | None = None

    @field_validator("date_of_birth")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("is not a plausible date of birth")
        return value


class Child(Strict):
    age: int = Field(ge=0, le=17, description="whole years; a child is under 18")


class Perpetrator(Strict):
    lives_with_victim: bool = False
    is_tenant: bool = False
    relationship: str = Field(default="", max_length=100)


class SafeContact(Strict):
    safe_phone: str = Field(default="", max_length=32, pattern=r"^[0-9 +()-]*$")
    safe_times: str = Field(default="", max_length=200)
    may_leave_message: bool = False
    preferred_contact_at: AwareDatetime | None = None


class SubmitDisclosure(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    received_at: AwareDatetime
    channel: Channel
    victim: Victim
    children: list[Child] = Field(default_factory=list, max_length=30)
    perpetrator: Perpetrator = Perpetrator()
    vulnerabilities: list[str] = Field(default_factory=list, max_length=20)
    interpreter_language: str = Field(default="", max_length=60)
    two_staff_to_attend: bool = False
    open_tenancy_actions: list[TenancyAction] = Field(default_factory=list, max_length=10)
    police_log_number: str = Field(default="", max_length=64)
    support_worker: str = Field(default="", max_length=200)
    safe_contact: SafeContact = SafeContact()
    safe_to_return_home: bool | None = None
    reporter_suspected_perpetrator: bool = False

    @field_validator("channel", mode="before")
    @classmethod
    def _not_unspecified(cls, value: object) -> object:
        if value in ("CHANNEL_UNSPECIFIED", 0):
            raise ValueError("must be set (VICTIM_DIRECT, VICTIM_INDIRECT, THIRD_PARTY, POLICE_DACC, AGENCY_REQUEST or STAFF)")
        return value

    @field_validator("vulnerabilities")
    @classmethod
    def _short_items(cls, values: list[str]) -> list[str]:
        if any(len(v) > 100 or not v.strip() for v in values):
            raise ValueError("each vulnerability must be 1 to 100 characters")
        return [v.strip() for v in values]

    def received_in_future(self, now: datetime) -> bool:
        return (self.received_at - now).total_seconds() > FUTURE_TOLERANCE_S

    def details(self) -> dict[str, object]:
        """The initial considerations (seed 001 §3), as stored on the case."""
        return self.model_dump(
            mode="json",
            include={
                "perpetrator", "vulnerabilities", "interpreter_language", "two_staff_to_attend",
                "open_tenancy_actions", "police_log_number", "support_worker", "safe_to_return_home",
                "reporter_suspected_perpetrator",
            },
        )


class CaseCommand(Strict):
    case_id: str = Field(min_length=1)


class RecordSafeContact(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    outcome: SafeContactOutcome
    at: AwareDatetime
    method: str = Field(default="", max_length=50)


class RecordConsent(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    decision: ConsentDecision
    agencies: list[str] = Field(min_length=1, max_length=30)
    at: AwareDatetime


class RecordNote(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=10_000)


class ChangeStatus(CaseCommand):
    reason: str = Field(min_length=1, max_length=500)


class RecordImmediateSafety(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    safe_to_return_home: bool = False


class RecordReportedElsewhere(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    police_log_number: str = Field(default="", max_length=64)
    support_worker: str = Field(default="", max_length=200)
    consent_to_speak_to_them: bool = False


class ReasonedCommand(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=2000)


class CorrectDetails(ReasonedCommand):
    victim: Victim


# ----- inputs to the referral pathways (issue #4) -----------------------------------------------

_CODE = r"^[A-Z0-9_]{1,40}$"


class RehousingRoute(StrEnum):
    RESPITE_OR_TEMPORARY = "RESPITE_OR_TEMPORARY"
    MANAGEMENT_TRANSFER = "MANAGEMENT_TRANSFER"
    ALLOCATIONS = "ALLOCATIONS"


class SafeguardingConcern(StrEnum):
    CHILD_AT_RISK = "CHILD_AT_RISK"
    ADULT_AT_RISK = "ADULT_AT_RISK"


class RecordRehousingRequest(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    route: RehousingRoute
    reason: str = Field(default="", max_length=2000)


class RecordPerpetratorWillingness(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    willing: bool = False


class RecordSafeguardingConcern(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    kind: SafeguardingConcern
    details: str = Field(default="", max_length=2000)


class Diversity(Strict):
    gender: str = Field(default="", pattern=f"^$|{_CODE}")
    age_band: str = Field(default="", pattern=f"^$|{_CODE}")
    ethnicity: str = Field(default="", pattern=f"^$|{_CODE}")
    disability: bool = False
    sexual_orientation: str = Field(default="", pattern=f"^$|{_CODE}")


class RecordMaracReferralDetails(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    safe_to_call: bool = False
    safe_times: str = Field(default="", max_length=200)
    diversity: Diversity = Diversity()
    perpetrator_relationship: str = Field(default="", pattern=f"^$|{_CODE}")
    victim_aware: bool = False
    victim_unaware_reason: str = Field(default="", pattern=f"^$|{_CODE}")
    who_victim_fears: str = Field(default="", max_length=2000)
    safe_to_talk_to: str = Field(default="", max_length=2000)


# ----- lawful erasure (ADR 0022) -----------------------------------------------------------------


class DataSubject(StrEnum):
    VICTIM = "VICTIM"
    PERPETRATOR = "PERPETRATOR"


class EraseSubject(CaseCommand):
    idempotency_key: str = Field(min_length=1, max_length=128)
    subject: DataSubject
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("subject", mode="before")
    @classmethod
    def _not_unspecified(cls, value: object) -> object:
        if value in ("DATA_SUBJECT_UNSPECIFIED", 0):
            raise ValueError("must be set (VICTIM or PERPETRATOR)")
        return value
