"""Test helpers: open a case's repairs file the way production does (intake's event through the
inbox), and the callers that act on work orders."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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
from caseplatform.settings import PlatformSettings
from casework.intake.v1 import events_pb2 as intake_events
from repairs.application import RepairsApplication

CHO = Actor("landlord", "CHO", "cho-7")
CSO = Actor("landlord", "CSO", "cso-2")
LINE_MANAGER = Actor("landlord", "LINE_MANAGER", "lm-1")
ACME = Actor("acme-builders", "contractor", "acme-fitter-1")
OTHER = Actor("other-locks", "contractor", "other-fitter-9")
# Good Friday 2027, 17:40 in London (the system stack's clock).
GOOD_FRIDAY_EVENING = datetime(2027, 3, 26, 17, 40, tzinfo=LONDON)


def app_for(tmp_path: Path) -> RepairsApplication:
    return RepairsApplication(PlatformSettings(casework_data_dir=tmp_path))


def disclosure_event(case_id: str, notification_id: int = 1) -> IncomingEvent:
    payload = intake_events.DisclosureReceived(
        case_id=case_id, received_at=to_timestamp(GOOD_FRIDAY_EVENING), postcode_district="NP4"
    )
    envelope = build_envelope(
        OutgoingEvent(case_id=case_id, payload=payload, occurred_at=GOOD_FRIDAY_EVENING),
        aggregate_id=case_id,
        aggregate_version=1,
        recorded_at=GOOD_FRIDAY_EVENING,
        actor=CHO,
        source=SourcePosition("intake", notification_id, 0, notification_id - 1),
    )
    return parse_envelope(envelope.SerializeToString())


def open_case(app: RepairsApplication, case_key: str = "case-1") -> str:
    case_id = str(stable_id("test-intake", case_key))
    inbox = Inbox(app, app.policy)
    tracked = inbox.tracked("intake", 0)
    outcome = inbox.apply("intake", 0, [disclosure_event(case_id, tracked + 1)])
    assert outcome.processed == 1
    return case_id
