"""Feed reporting the way production does: envelopes from any service, through the inbox."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
from caseplatform.identity import Actor
from caseplatform.inbox import Inbox
from reporting.application import ReportingApplication

CHO = Actor("landlord", "CHO", "cho-7")


class Feed:
    """Publishes payloads as if from their services, one partition each, in order."""

    def __init__(self, app: ReportingApplication) -> None:
        self.app = app
        self.inbox = Inbox(app, app.policy)
        self._last: dict[str, int] = defaultdict(int)
        self._versions: dict[str, int] = defaultdict(int)

    def envelope(self, case_id: str, payload: Any, occurred_at: datetime, recorded_at: datetime | None = None,
                 actor: Actor = CHO) -> Any:
        service = payload.DESCRIPTOR.full_name.split(".")[0]
        self._last[service] += 1
        self._versions[f"{service}:{case_id}"] += 1
        envelope = build_envelope(
            OutgoingEvent(case_id=case_id, payload=payload, occurred_at=occurred_at),
            aggregate_id=case_id,
            aggregate_version=self._versions[f"{service}:{case_id}"],
            recorded_at=recorded_at or occurred_at,
            actor=actor,
            source=SourcePosition(service, self._last[service], 0, self._last[service] - 1),
        )
        return parse_envelope(envelope.SerializeToString())

    def publish(self, case_id: str, payload: Any, occurred_at: datetime, recorded_at: datetime | None = None,
                actor: Actor = CHO) -> Any:
        event = self.envelope(case_id, payload, occurred_at, recorded_at, actor)
        outcome = self.inbox.apply(event.source_service, 0, [event])
        assert outcome.processed == 1, outcome
        return event

    def publish_many(self, events: list[Any]) -> None:
        by_service: dict[str, list[Any]] = defaultdict(list)
        for e in events:
            by_service[e.source_service].append(e)
        for service, run in by_service.items():
            self.inbox.apply(service, 0, run)
