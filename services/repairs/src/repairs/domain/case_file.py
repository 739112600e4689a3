"""The CaseFile aggregate: what repairs knows of a case it was told about — the area (patch)
it belongs to and the household shape — so its own work can be routed without asking intake.
It also lists the case's work orders (for GetWorkOrders)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


class CaseFile(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("repairs", "case-file", case_id)

    @event("CaseFileOpened")
    def __init__(
        self, *, case_id: str, postcode_district: str, children_count: int, meta: dict[str, Any]
    ) -> None:
        self.case_id = case_id
        self.postcode_district = postcode_district
        self.children_count = children_count
        self.work_order_ids: list[str] = []

    @event("WorkOrderFiled")
    def file_work_order(self, *, work_order_id: str, meta: dict[str, Any]) -> None:
        self.work_order_ids.append(work_order_id)
