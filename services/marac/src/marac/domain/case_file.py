"""The CaseFile aggregate: what marac knows of a case it was told about — the area (patch)
it belongs to and the household shape — so its own work can be routed without asking intake."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


class CaseFile(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("marac", "case-file", case_id)

    @event("CaseFileOpened")
    def __init__(
        self, *, case_id: str, postcode_district: str, children_count: int, meta: dict[str, Any]
    ) -> None:
        self.case_id = case_id
        self.postcode_district = postcode_district
        self.children_count = children_count
