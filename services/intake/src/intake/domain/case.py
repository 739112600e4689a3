"""The Case aggregate: one disclosure's journey, from receipt to closure."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


def postcode_district(postcode: str) -> str:
    """The outward code ('NP4 6YB' → 'NP4'): the patch, not the address."""
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 3 else compact


class Case(CaseAggregate):
    @staticmethod
    def create_id(idempotency_scope: str, idempotency_key: str, **_: Any) -> UUID:
        # The same (caller agency, key) always names the same case: creation is idempotent.
        return stable_id("intake", "case", idempotency_scope, idempotency_key)

    @event("DisclosureReceived")
    def __init__(
        self,
        *,
        idempotency_scope: str,
        idempotency_key: str,
        request_hash: str,
        channel: str,
        received_at: datetime,
        victim: dict[str, Any],
        children_ages: list[int],
        deadlines: list[dict[str, str]],
        meta: dict[str, Any],
    ) -> None:
        self.request_hash = request_hash
        self.channel = channel
        self.received_at = received_at
        self.victim = victim
        self.children_ages = list(children_ages)
        self.deadlines = list(deadlines)
        self.status = "OPEN"

    @property
    def case_id(self) -> str:
        return str(self.id)

    @property
    def postcode_district(self) -> str:
        return postcode_district(self.victim["address"]["postcode"])

    @property
    def recorded_at(self) -> datetime:
        return self.created_on
