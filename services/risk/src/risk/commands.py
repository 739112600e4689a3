"""Risk's commands as validated models: what a well-formed request must hold."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, Field, field_validator

from caseplatform.errors import FieldViolation, InvalidArgument
from caseplatform.validation import StrictCommand as Strict
from caseplatform.validation import parse_command
from risk.domain.grading import POLICE_DASH_QUESTIONS, RIC_QUESTIONS, Grade


class Checklist(StrEnum):
    SAFELIVES_DASH_RIC = "SAFELIVES_DASH_RIC"
    POLICE_DASH = "POLICE_DASH"

    @property
    def questions(self) -> int:
        return RIC_QUESTIONS if self is Checklist.SAFELIVES_DASH_RIC else POLICE_DASH_QUESTIONS


class Answer(StrEnum):
    YES = "YES"
    NO = "NO"
    NOT_KNOWN = "NOT_KNOWN"


class Source(StrEnum):
    LANDLORD = "LANDLORD"
    POLICE = "POLICE"
    IDVA = "IDVA"
    OTHER_AGENCY = "OTHER_AGENCY"


def _refuse_unspecified(value: object, unspecified: str, choices: str) -> object:
    # proto3 sends the zero value as "absent"; one sent explicitly (optional fields) is refused too.
    if value in (unspecified, 0):
        raise ValueError(f"must be set ({choices})")
    return value


class DashAnswer(Strict):
    question: int = Field(ge=1, description="1-based question number on the checklist")
    answer: Answer

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_set(cls, value: object) -> object:
        return _refuse_unspecified(value, "ANSWER_UNSPECIFIED", "YES, NO or NOT_KNOWN")


class RecordDashAssessment(Strict):
    idempotency_key: str = Field(min_length=1, max_length=128)
    case_id: UUID
    checklist: Checklist = Checklist.SAFELIVES_DASH_RIC
    answers: list[DashAnswer] = Field(default_factory=list, max_length=POLICE_DASH_QUESTIONS)
    safe_to_talk: bool = False
    professional_judgement_high: bool = False
    professional_judgement_reason: str = Field(default="", max_length=2000)
    police_callouts_12_months: int = Field(default=0, ge=0, le=10_000)
    officer_grade: Grade | None = None
    # An id or a role (e.g. "cho-7", "IDVA", "gwent-police/PC-1234"), never a person's name:
    # no spaces, so "Jane Smith" is refused.
    assessed_by: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$")
    source: Source
    completed_at: AwareDatetime
    police_grade: Grade | None = None

    @field_validator("officer_grade", "police_grade", mode="before")
    @classmethod
    def _grade_set(cls, value: object) -> object:
        return _refuse_unspecified(value, "GRADE_UNSPECIFIED", "STANDARD, MEDIUM or HIGH")

    @field_validator("source", mode="before")
    @classmethod
    def _source_set(cls, value: object) -> object:
        return _refuse_unspecified(value, "SOURCE_UNSPECIFIED", "LANDLORD, POLICE, IDVA or OTHER_AGENCY")

    @property
    def yes_count(self) -> int:
        return sum(1 for a in self.answers if a.answer is Answer.YES)

    def completed_in_future(self, now: datetime, tolerance_s: float = 300) -> bool:
        return (self.completed_at - now).total_seconds() > tolerance_s

    def rule_violations(self) -> list[FieldViolation]:
        """Rules across fields, each reported against the field to correct."""
        found: list[FieldViolation] = []
        questions = self.checklist.questions
        ric = self.checklist is Checklist.SAFELIVES_DASH_RIC
        if ric and len(self.answers) != questions:
            found.append(FieldViolation("answers", f"a SafeLives DASH RIC has {questions} answers, one per question; got {len(self.answers)}"))
        seen: set[int] = set()
        for i, answer in enumerate(self.answers):
            if answer.question > questions:
                found.append(FieldViolation(f"answers[{i}].question", f"must be between 1 and {questions} on a {self.checklist.value}"))
            elif answer.question in seen:
                found.append(FieldViolation(f"answers[{i}].question", f"question {answer.question} is answered more than once"))
            seen.add(answer.question)
        if self.professional_judgement_high and not self.professional_judgement_reason:
            found.append(FieldViolation("professional_judgement_reason", "is required when professional_judgement_high is set"))
        if ric:
            if not self.safe_to_talk:
                found.append(FieldViolation("safe_to_talk", "must be confirmed before the checklist is asked"))
            if self.police_grade is not None:
                found.append(FieldViolation("police_grade", "is only for a POLICE_DASH (a SafeLives RIC is graded here)"))
            if self.officer_grade is Grade.HIGH and not self.professional_judgement_high:
                found.append(FieldViolation("officer_grade", "HIGH is a professional judgement: set professional_judgement_high and give its reason"))
        else:
            if self.police_grade is None:
                found.append(FieldViolation("police_grade", "is required for a POLICE_DASH (it is recorded as graded, not re-scored)"))
            if self.officer_grade is not None:
                found.append(FieldViolation("officer_grade", "does not apply to a POLICE_DASH: its grade is police_grade"))
        return found


def parse_record_dash_assessment(data: dict[str, Any]) -> RecordDashAssessment:
    command = parse_command(RecordDashAssessment, data)
    violations = command.rule_violations()
    if violations:
        raise InvalidArgument(violations)
    return command
