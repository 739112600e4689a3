"""Test helpers: feed intake's and risk's events to referral the way production does (through
the inbox, with positions), and read what referral would publish."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from caseplatform.calendar import LONDON
from caseplatform.envelope import (
    OutgoingEvent,
    SourcePosition,
    build_envelope,
    parse_envelope,
    to_timestamp,
)
from caseplatform.identity import Actor
from caseplatform.inbox import Inbox
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from casework.risk.v1 import events_pb2 as risk_events
from casework.risk.v1 import risk_pb2
from referral.application import ReferralApplication
from referral.translation import to_contract

CHO = Actor("landlord", "CHO", "cho-7")
# Thursday 4 March 2027, 10:00 in London (GMT): an ordinary working week.
THURSDAY = datetime(2027, 3, 4, 10, 0, tzinfo=LONDON)


class Feed:
    """Upstream topics as the inbox sees them: one partition each, positions counting up."""

    def __init__(self, app: ReferralApplication) -> None:
        self.app = app
        self.inbox = Inbox(app, app.policy)
        self.positions = {"intake": 0, "risk": 0, "marac": 0}

    def send(self, source: str, payload: Message, at: datetime = THURSDAY, redeliver: bool = False) -> Any:
        if not redeliver:
            self.positions[source] += 1
        position = self.positions[source]
        envelope = build_envelope(
            OutgoingEvent(case_id=payload.case_id, payload=payload, occurred_at=at),
            aggregate_id=payload.case_id, aggregate_version=position, recorded_at=at, actor=CHO,
            source=SourcePosition(source, position, 0, position - 1),
        )
        return self.inbox.apply(source, 0, [parse_envelope(envelope.SerializeToString())])

    def disclosure(self, case_id: str, at: datetime = THURSDAY, **fields: Any) -> Any:
        payload = intake_events.DisclosureReceived(
            case_id=case_id, received_at=to_timestamp(at), postcode_district="NP4", area="Torfaen",
            tenant_ref=fields.pop("tenant_ref", f"T-{case_id[:6]}"), **fields,
        )
        return self.send("intake", payload, at)

    def risk(
        self, case_id: str, grade: str, at: datetime = THURSDAY, triggers: tuple[str, ...] = (), redeliver: bool = False
    ) -> Any:
        payload = risk_events.RiskAssessed(
            case_id=case_id, assessment_id=f"a-{grade}", grade=risk_pb2.Grade.Value(grade),
            triggers=[risk_pb2.Trigger.Value(t) for t in triggers], completed_at=to_timestamp(at),
        )
        return self.send("risk", payload, at, redeliver=redeliver)

    def consent(self, case_id: str, decision: str, *agencies: str, at: datetime = THURSDAY) -> Any:
        payload = intake_events.ConsentRecorded(
            case_id=case_id, decision=intake_pb2.ConsentDecision.Value(decision), agencies=list(agencies),
            at=to_timestamp(at),
        )
        return self.send("intake", payload, at)


def published(app: ReferralApplication) -> list[Message]:
    """The payloads referral's relay would put on `referral.events.v1`, in order."""
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    outgoing = [to_contract(app.mapper.to_domain_event(n)) for n in notifications]
    return [o.payload for o in outgoing if o is not None]


def of_type(app: ReferralApplication, message: type) -> list[Any]:
    return [p for p in published(app) if isinstance(p, message)]
