"""Test helpers: open a case's risk record the way production does (intake's event through the
inbox), and build DASH answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caseplatform.calendar import LONDON
from caseplatform.envelope import (
    IncomingEvent,
    OutgoingEvent,
    SourcePosition,
    build_envelope,
    parse_envelope,
    to_timestamp,
)
from caseplatform.identity import Actor
from caseplatform.ids import stable_id
from caseplatform.inbox import Inbox
from casework.intake.v1 import events_pb2 as intake_events
from risk.application import RiskApplication

CHO = Actor("landlord", "CHO", "cho-7")
# Good Friday 2027, 17:30 in London: Easter Monday is a bank holiday, so the assessment
# (1 working day) is due by the end of Tuesday 30 March (23:00 UTC, BST having started).
GOOD_FRIDAY_EVENING = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)
DUE_END_OF_TUESDAY = datetime(2027, 3, 31, 0, 0, tzinfo=LONDON)


def disclosure_event(case_id: str, received_at: datetime = GOOD_FRIDAY_EVENING, notification_id: int = 1) -> IncomingEvent:
    payload = intake_events.DisclosureReceived(
        case_id=case_id, received_at=to_timestamp(received_at), postcode_district="NP4"
    )
    envelope = build_envelope(
        OutgoingEvent(case_id=case_id, payload=payload, occurred_at=received_at),
        aggregate_id=case_id,
        aggregate_version=1,
        recorded_at=received_at,
        actor=CHO,
        source=SourcePosition("intake", notification_id, 0, notification_id - 1),
    )
    return parse_envelope(envelope.SerializeToString())


def open_case(app: RiskApplication, case_key: str = "case-1", received_at: datetime = GOOD_FRIDAY_EVENING) -> str:
    """Intake reports a disclosure; risk opens the case's record. Returns the case id."""
    case_id = str(stable_id("test-intake", case_key))
    inbox = Inbox(app, app.policy)
    tracked = inbox.tracked("intake", 0)
    outcome = inbox.apply("intake", 0, [disclosure_event(case_id, received_at, tracked + 1)])
    assert outcome.processed == 1
    return case_id


def answers(yes: int, total: int = 24, other: str = "NO") -> list[dict[str, Any]]:
    """`total` answers, the first `yes` of them YES, the rest `other`."""
    return [{"question": q, "answer": "YES" if q <= yes else other} for q in range(1, total + 1)]
