"""Which CHO owns each case, as every service but intake learns it from intake's events
(`DisclosureReceived.owner_cho`, `OwnerReassigned`), kept once here rather than in six services:
the need-to-know check "a CHO sees their own patch" needs it wherever a case is read (ADR 0021).

The index is a small aggregate per case in the service's own store, written by the tracked
consumer in the same transaction as the rest of the service's reaction to the event, so it is
exactly as up to date as the service itself. It is never published."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.arrivals import Arrivals
from caseplatform.envelope import IncomingEvent
from caseplatform.ids import stable_id
from caseplatform.inbox import Policy, Unit

OWNER_EVENTS = ("intake.v1.DisclosureReceived", "intake.v1.OwnerReassigned")


class CaseOwner(CaseAggregate):
    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return stable_id("case-owner", case_id)

    @event("Known")
    def __init__(self, *, case_id: str, cho: str) -> None:
        self.case_id = case_id
        self.cho = cho

    @event("Reassigned")
    def reassign(self, cho: str) -> None:
        self.cho = cho


class OwnerIndex:
    def __init__(self, app: Any, recheck_s: float = 0.25) -> None:
        self._app = app
        self.arrivals = Arrivals(self._knows, recheck_s)
        app.on_recorded(self.arrivals.recorded)

    def _owner(self, owner_id: UUID) -> CaseOwner | None:
        try:
            return self._app.repository.get(owner_id)
        except (AggregateNotFoundError, ValueError):
            return None

    def _knows(self, owner_id: UUID) -> bool:
        return self._owner(owner_id) is not None

    async def wait_for_case(self, case_id: str, timeout_s: float) -> bool:
        """Wait until this service has learnt of the case (ADR 0026): True when it has."""
        return await self.arrivals.wait(CaseOwner.create_id(case_id), timeout_s)

    def owner_of(self, case_id: str) -> str | None:
        owner = self._owner(CaseOwner.create_id(case_id))
        return owner.cho if owner is not None else None

    def learn(self, event: IncomingEvent, unit: Unit) -> None:
        if event.event_type not in OWNER_EVENTS or not event.case_id or event.payload is None:
            return
        cho = event.payload.owner_cho
        known = unit.get(CaseOwner.create_id(event.case_id))
        if known is None:
            unit.collect(CaseOwner(case_id=event.case_id, cho=cho))
        elif known.cho != cho:
            known.reassign(cho)
            unit.collect(known)

    def around(self, policy: Policy | None) -> Policy:
        """The service's policy, with the index kept up to date in the same unit."""

        def apply(event: IncomingEvent, unit: Unit) -> None:
            self.learn(event, unit)
            if policy is not None:
                policy(event, unit)

        return apply


def is_kernel_event(domain_event: Any) -> bool:
    return isinstance(domain_event, CaseOwner.Event)


def is_kernel_event_class(event_class: type) -> bool:
    return issubclass(event_class, CaseOwner.Event)
