"""Enum values of other services' events, read by name — and what happens when a value is new.

Adding a value to a contract enum is a compatible change (buf allows it), so during a rolling
deploy a consumer can meet a value its build does not know: a new risk grade, a new consent
decision. Guessing (treating it as "not HIGH") could skip a MARAC referral; dead-lettering would
step over the event for good. A policy reads an enum with `enum_name` / `enum_names` instead,
which raise `NotUnderstood`: the inbox then holds the partition at that event, applying nothing
after it, and tries again every few seconds until a build that knows the value is running
(ADR 0038). Nothing is lost or guessed; the hold is visible (`outcome="held"`, alert
`EventsHeld`). Read models that only show a value (reporting's summaries) label it instead.
"""

from __future__ import annotations

import functools
from typing import Any


class NotUnderstood(Exception):
    """An event this build cannot apply faithfully yet. The message names the contract field and
    the number — never a value of the event beyond that (ADR 0010: no content in logs)."""


def enum_name(message: Any, field: str) -> str:
    """The name of `message.field`'s value; `NotUnderstood` if this build does not know it."""
    return _name(message, field, getattr(message, field))


def enum_names(message: Any, field: str) -> list[str]:
    """The names of a repeated enum field's values, in order; `NotUnderstood` for any unknown."""
    return [_name(message, field, number) for number in getattr(message, field)]


def label(enum_type: Any, number: int) -> str:
    """For showing only (a timeline summary, casectl): the value's name, or "unrecognised value N"."""
    return _names(enum_type).get(number) or f"unrecognised value {number}"


def _name(message: Any, field: str, number: int) -> str:
    name = _names(message.DESCRIPTOR.fields_by_name[field].enum_type).get(number)
    if name is None:
        raise NotUnderstood(
            f"{message.DESCRIPTOR.full_name}.{field} = {number}: a value this build of the contracts does not know"
        )
    return name


@functools.cache
def _names(enum_type: Any) -> dict[int, str]:
    """An enum's value names by number, once per enum (every event read asks)."""
    return {number: value.name for number, value in enum_type.values_by_number.items()}
