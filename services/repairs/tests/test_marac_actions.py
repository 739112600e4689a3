"""marac's ActionAgreed through repairs' inbox (real store): a landlord-owned TARGET_HARDENING
action raises one SECURITY work order with the action's measures, however often it is delivered;
other actions raise nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
from caseplatform.inbox import Inbox
from caseplatform.testing import controlled_clock
from casework.marac.v1 import events_pb2 as marac_events
from casework.marac.v1 import marac_pb2
from casework.repairs.v1 import repairs_pb2
from repairs.application import RepairsApplication

from .helpers import CHO, GOOD_FRIDAY_EVENING, app_for, open_case

AGREED_AT = GOOD_FRIDAY_EVENING - timedelta(hours=2)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RepairsApplication]:
    with controlled_clock(GOOD_FRIDAY_EVENING):
        yield app_for(tmp_path)


def action_agreed(case_id: str, action_id: str = "a-1", **overrides: Any) -> marac_events.ActionAgreed:
    fields: dict[str, Any] = {
        "action_id": action_id, "case_id": case_id, "owning_agency": "landlord", "landlord_owned": True,
        "kind": marac_pb2.TARGET_HARDENING, "source": marac_pb2.MARAC_MEETING,
        "measures": [repairs_pb2.EXTRA_LOCKS, repairs_pb2.FIREPROOF_LETTERBOX],
    }
    fields.update(overrides)
    return marac_events.ActionAgreed(**fields)


def deliver(app: RepairsApplication, payload: Any, notification_id: int) -> None:
    envelope = build_envelope(
        OutgoingEvent(case_id=payload.case_id, payload=payload, occurred_at=AGREED_AT),
        aggregate_id=payload.action_id, aggregate_version=1, recorded_at=AGREED_AT, actor=CHO,
        source=SourcePosition("marac", notification_id, 0, notification_id - 1),
    )
    outcome = Inbox(app, app.policy).apply("marac", 0, [parse_envelope(envelope.SerializeToString())])
    assert not outcome.dead_letters


def test_a_landlord_target_hardening_action_raises_one_security_work_order(app: RepairsApplication) -> None:
    case_id = open_case(app)
    deliver(app, action_agreed(case_id), 1)
    deliver(app, action_agreed(case_id), 1)  # redelivered

    (order,) = app.work_orders(case_id, CHO)
    assert order.source == "MARAC_ACTION" and order.priority == "SECURITY"
    assert order.measures == ["EXTRA_LOCKS", "FIREPROOF_LETTERBOX"]
    assert order.postcode_district == "NP4"
    assert order.deadline["kind"] == "REPAIRS_SECURITY"
    assert order.deadline["due_at"] == (AGREED_AT + timedelta(hours=24)).isoformat()


def test_the_same_action_republished_later_still_raises_one_order(app: RepairsApplication) -> None:
    """Even past the inbox's tracking (e.g. marac's store replayed to a rebuilt consumer), the
    order's id comes from the action's, so a second ActionAgreed for it changes nothing."""
    case_id = open_case(app)
    deliver(app, action_agreed(case_id), 1)
    deliver(app, action_agreed(case_id), 2)
    assert len(app.work_orders(case_id, CHO)) == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"landlord_owned": False, "owning_agency": "gwent-police"},
        {"kind": marac_pb2.CONFIRM_TENANCY_STATUS, "measures": []},
    ],
)
def test_other_actions_raise_no_work_order(app: RepairsApplication, overrides: dict[str, Any]) -> None:
    case_id = open_case(app)
    deliver(app, action_agreed(case_id, **overrides), 1)
    assert app.work_orders(case_id, CHO) == []


def test_an_action_before_the_disclosure_still_raises_its_order(app: RepairsApplication) -> None:
    case_id = "6d0b3b0e-2a0f-4d53-9a43-8a8f3c1e0b11"
    deliver(app, action_agreed(case_id), 1)
    (order,) = app.work_orders(case_id, CHO)
    assert order.source == "MARAC_ACTION" and order.postcode_district == ""
