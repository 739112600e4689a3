"""Who replayed a dead letter, and when (ADR 0039): a record in the service's own store,
written in the commit of what the replay applied, so an audit of the store shows every
operator's hand in a case's history, not only the operations log. Internal: never published.
Opaque ids only, as everywhere (the operator's agency, role and user id)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.identity import Actor
from caseplatform.ids import stable_id


def replay_record_id(place: str) -> UUID:
    """One record per stepped-over event (`place`: its set-aside tracking name): a replay
    happens once, and a racing second one collides here as well as on the tracking row."""
    return stable_id("dead-letter-replay", place)


class DeadLetterReplay(CaseAggregate):
    @staticmethod
    def create_id(*, place: str, **_: Any) -> UUID:
        return replay_record_id(place)

    @event("Recorded")
    def __init__(
        self, *, place: str, case_id: str, event_id: str, event_type: str, agency: str, role: str, user: str,
    ) -> None:
        self.place = place
        self.case_id = case_id
        self.event_id = event_id
        self.event_type = event_type
        self.agency = agency
        self.role = role
        self.user = user

    @property
    def requested_by(self) -> Actor:
        return Actor(self.agency, self.role, self.user)
