"""Errors an application raises; the gRPC edge maps each to one status code."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base for errors a caller can act on."""


@dataclass
class FieldViolation:
    field: str
    reason: str


class InvalidArgument(DomainError):
    """The request is malformed: names every field at fault and why. Nothing was stored."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.reason}" for v in violations))

    @classmethod
    def one(cls, field: str, reason: str) -> InvalidArgument:
        return cls([FieldViolation(field, reason)])


class NotFound(DomainError):
    def __init__(self, what: str, identifier: str) -> None:
        super().__init__(f"{what} {identifier} not found")


class Conflict(DomainError):
    """The request contradicts what is recorded (e.g. an idempotency key reused for other data)."""


class PermissionDenied(DomainError):
    """The caller is who they say, but may not do this (need-to-know). Recorded by the edge."""


class PreconditionFailed(DomainError):
    """The request is well formed but the case is not in a state that allows it."""


class Unavailable(DomainError):
    """Something the request needs (e.g. the broker) is not answering: try again later."""
