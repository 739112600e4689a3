"""A case's access log: who read (or was refused) its records, when and why, projected from the
read audit every service publishes (`common.v1.CaseAccessed`, ADR 0021). One aggregate per case;
each entry holds references only (ids, roles, the RPC, the stated purpose)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id


class CaseAccessLog(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("reporting", "access-log", case_id)

    @event("Opened")
    def __init__(self, *, case_id: str) -> None:
        self.case_id = case_id
        self.entries: list[dict[str, Any]] = []

    @event("EntryAppended")
    def append(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
