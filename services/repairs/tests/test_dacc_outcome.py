"""Target hardening offered at the DACC becomes one SECURITY work order, however often intake's
DaccOutcomeRecorded is delivered."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
from caseplatform.inbox import Inbox
from casework.intake.v1 import events_pb2 as intake_events
from casework.police.v1 import dacc_pb2
from casework.repairs.v1 import repairs_pb2

from .helpers import CHO, GOOD_FRIDAY_EVENING, app_for, open_case


def outcome_event(case_id: str, n: int, interventions: list[int]) -> object:
    payload = intake_events.DaccOutcomeRecorded(
        case_id=case_id, incident_id="i-1", outcome_id=f"o-{n}", dacc_date="2027-03-26",
        interventions=interventions, target_hardening_measures=[repairs_pb2.LOCK_CHANGE, repairs_pb2.LIGHTING],
        joint_tenancy=True,
    )
    envelope = build_envelope(
        OutgoingEvent(case_id=case_id, payload=payload, occurred_at=GOOD_FRIDAY_EVENING),
        aggregate_id="i-1", aggregate_version=n, recorded_at=GOOD_FRIDAY_EVENING, actor=CHO,
        source=SourcePosition("intake", n, 0, n - 1),
    )
    return parse_envelope(envelope.SerializeToString())


def test_dacc_target_hardening_raises_one_security_work_order(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    case_id = open_case(app)  # intake notification 1
    inbox = Inbox(app, app.policy)
    hardening = outcome_event(case_id, 2, [dacc_pb2.WELFARE_CHECK, dacc_pb2.TARGET_HARDENING])
    inbox.apply("intake", 0, [hardening])
    inbox.apply("intake", 0, [hardening])  # redelivered
    inbox.apply("intake", 0, [outcome_event(case_id, 3, [dacc_pb2.SIGNPOSTING])])  # nothing for repairs
    [order] = app.work_orders(UUID(case_id), CHO)
    assert (order.source, order.priority, order.measures, order.joint_tenancy) == (
        "DACC_OUTCOME", "SECURITY", ["LOCK_CHANGE", "LIGHTING"], True)
    assert order.needs_lock_change_approval  # a joint tenancy: a CSO or line manager approves first
    assert order.deadline["kind"] == "REPAIRS_SECURITY"
