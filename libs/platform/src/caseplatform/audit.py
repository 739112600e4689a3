"""The read audit (ADR 0021): one `AccessRecord` per read of case data and per refused call,
saved in the service's own store, so the outbox relay publishes it on the service's topic as a
`common.v1.CaseAccessed` like any other event — no second write to get wrong. Reporting projects
them into each case's access log. References only: ids, roles, RPC names, the stated purpose."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.envelope import IncomingEvent, OutgoingEvent
from caseplatform.inbox import Policy, Unit
from casework.common.v1 import access_pb2

ALLOWED = "ALLOWED"
DENIED = "DENIED"


class AccessRecord(CaseAggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()  # every access is its own record

    @event("Recorded")
    def __init__(
        self, *, case_id: str, service: str, rpc: str, agency: str, role: str, user: str,
        access_role: str, purpose: str, outcome: str, reason: str,
    ) -> None:
        self.case_id = case_id
        self.service = service
        self.rpc = rpc
        self.agency = agency
        self.role = role
        self.user = user
        self.access_role = access_role
        self.purpose = purpose
        self.outcome = outcome
        self.reason = reason


AUDIT_EVENT = "common.v1.CaseAccessed"


class AuditUnavailable(Exception):
    """The audit record could not be written: the read must not be answered."""


class ReadAudit:
    """Writes access records into one service's store (each its own aggregate: no contention)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def record(self, **fields: str) -> None:
        try:
            self._app.save(AccessRecord(**fields))
        except Exception as exc:  # any store failure: no unaudited read
            raise AuditUnavailable(f"{type(exc).__name__}") from exc


def translate_access(domain_event: Any) -> OutgoingEvent | None:
    """`AccessRecord.Recorded` → `common.v1.CaseAccessed` (None for anything else)."""
    if not isinstance(domain_event, AccessRecord.Recorded):
        return None
    e: Any = domain_event
    payload = access_pb2.CaseAccessed(
        case_id=e.case_id, service=e.service, rpc=e.rpc, agency=e.agency, role=e.role, user=e.user,
        access_role=e.access_role, purpose=e.purpose, outcome=access_pb2.AccessOutcome.Value(e.outcome),
        reason=e.reason,
    )
    return OutgoingEvent(case_id=e.case_id, payload=payload, occurred_at=e.timestamp)


def is_access_event_class(event_class: type) -> bool:
    """What `translate_access` publishes."""
    return issubclass(event_class, AccessRecord.Recorded)


def skip_audit(policy: Policy) -> Policy:
    """A service's policy that never sees the read audit (only reporting projects it)."""

    def apply(event: IncomingEvent, unit: Unit) -> None:
        if event.event_type != AUDIT_EVENT:
            policy(event, unit)

    return apply
