"""Deterministic identifiers: the same inputs always give the same aggregate id, which makes
creation idempotent (the store refuses a second version 1) and lets reacting services find
the aggregate another event created without a lookup table."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("1d5c3f56-87a4-4c8e-b6f5-2b1f6f2f0c3a")


def stable_id(*parts: object) -> UUID:
    return uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def parse_uuid(value: str, field: str) -> UUID:
    from caseplatform.errors import InvalidArgument

    try:
        return UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument.one(field, "must be a UUID") from None
