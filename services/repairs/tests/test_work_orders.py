"""Work orders at the application level: deadlines, evidence before repair, lock-change approval
in a joint tenancy, completion on time, contractors' isolation, and what goes on Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from caseplatform.calendar import LONDON
from caseplatform.errors import Conflict, InvalidArgument, NotFound, PreconditionFailed
from caseplatform.testing import controlled_clock
from casework.repairs.v1 import events_pb2
from repairs import commands
from repairs.application import PermissionDenied, RepairsApplication
from repairs.blobs import LocalBlobStore
from repairs.domain.work_order import SENSITIVITY_INSTRUCTION, WorkOrder
from repairs.translation import to_contract

from .helpers import ACME, CHO, CSO, GOOD_FRIDAY_EVENING, LINE_MANAGER, OTHER, app_for, open_case

PHOTO = b"\x89PNG\r\n\x1a\n synthetic photo"


@pytest.fixture
def clock() -> Iterator[Any]:
    with controlled_clock(GOOD_FRIDAY_EVENING) as c:
        yield c


@pytest.fixture
def app(tmp_path: Path, clock: Any) -> RepairsApplication:
    return app_for(tmp_path)


def raise_order(app: RepairsApplication, case_id: str, key: str = "wo-1", **overrides: Any) -> WorkOrder:
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "case_id": case_id,
        "measures": ["EMERGENCY_REPAIR_REGLAZING"],
        "priority": "EMERGENCY",
        "reason": "window broken in the incident",
        "source": "INITIAL_ASSESSMENT",
    }
    fields.update(overrides)
    return app.raise_work_order(commands.parse(commands.RaiseWorkOrder, fields), CHO).work_order


def attach(app: RepairsApplication, order: WorkOrder, stage: str, actor=CHO, content: bytes = PHOTO) -> dict[str, Any]:
    command = commands.parse(
        commands.AttachEvidence,
        {"work_order_id": str(order.id), "stage": stage, "content": content, "content_type": "image/png"},
    )
    return app.attach_evidence(command, actor)


def assign(app: RepairsApplication, order: WorkOrder, contractor: str = "acme-builders") -> WorkOrder:
    return app.assign_contractor(
        commands.parse(commands.AssignContractor, {"work_order_id": str(order.id), "contractor": contractor}), CHO
    )


def contracts(app: RepairsApplication) -> list[Any]:
    out = []
    for notification in app.notification_log.select(1, 1000):
        domain_event = app.mapper.to_domain_event(notification)
        outgoing = to_contract(domain_event)
        if outgoing is not None:
            out.append(outgoing.payload)
    return out


# -- raising -------------------------------------------------------------------------------


def test_emergency_order_is_due_within_24_hours(app: RepairsApplication) -> None:
    case_id = open_case(app)
    order = raise_order(app, case_id)
    due_at = datetime.fromisoformat(order.deadline["due_at"])
    assert order.deadline["kind"] == "REPAIRS_EMERGENCY"
    assert due_at == GOOD_FRIDAY_EVENING + timedelta(hours=24)
    assert order.deadline["due_date"] == "2027-03-27"
    assert order.sensitivity_instruction == SENSITIVITY_INSTRUCTION
    assert "sympathetically" in SENSITIVITY_INSTRUCTION and "Urgent" in SENSITIVITY_INSTRUCTION


def test_security_within_24_hours_routine_within_5_working_days(app: RepairsApplication) -> None:
    case_id = open_case(app)
    security = raise_order(app, case_id, key="s", measures=["CCTV"], priority="SECURITY")
    routine = raise_order(app, case_id, key="r", measures=["LIGHTING"], priority="ROUTINE")
    assert security.deadline["kind"] == "REPAIRS_SECURITY"
    assert datetime.fromisoformat(security.deadline["due_at"]) == GOOD_FRIDAY_EVENING + timedelta(hours=24)
    # Good Friday evening: Easter Monday is a holiday; Tue 30 … Mon 5 April is 5 working days.
    assert (routine.deadline["kind"], routine.deadline["due_date"]) == ("REPAIRS_ROUTINE", "2027-04-05")


def test_deadlines_are_configuration(tmp_path: Path, clock: Any) -> None:
    from caseplatform.settings import PlatformSettings
    from repairs.settings import RepairsSettings

    app = RepairsApplication(
        PlatformSettings(casework_data_dir=tmp_path), repairs_settings=RepairsSettings(emergency_hours=4)
    )
    order = raise_order(app, open_case(app))
    assert datetime.fromisoformat(order.deadline["due_at"]) == GOOD_FRIDAY_EVENING + timedelta(hours=4)


def test_raise_is_idempotent_and_a_reused_key_conflicts(app: RepairsApplication) -> None:
    case_id = open_case(app)
    first = raise_order(app, case_id)
    again = app.raise_work_order(
        commands.parse(commands.RaiseWorkOrder, {
            "idempotency_key": "wo-1", "case_id": case_id, "measures": ["EMERGENCY_REPAIR_REGLAZING"],
            "priority": "EMERGENCY", "reason": "window broken in the incident", "source": "INITIAL_ASSESSMENT",
        }),
        CHO,
    )
    assert (again.created, again.work_order.id) == (False, first.id)
    with pytest.raises(Conflict):
        raise_order(app, case_id, priority="ROUTINE")
    assert [o.id for o in app.work_orders(UUID(case_id), CHO)] == [first.id]


def test_raise_on_an_unknown_case_is_not_found(app: RepairsApplication) -> None:
    with pytest.raises(NotFound):
        raise_order(app, "6f1c0f0e-1d2b-4c3a-9e8f-000000000001")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"measures": []}, "measures"),
        ({"measures": ["CCTV", "CCTV"]}, "measures"),
        ({"measures": ["MOAT"]}, "measures[0]"),
        ({"priority": "PRIORITY_UNSPECIFIED"}, "priority"),
        ({"source": "WORK_ORDER_SOURCE_UNSPECIFIED"}, "source"),
        ({"reason": ""}, "reason"),
        ({"case_id": "nope"}, "case_id"),
    ],
)
def test_bad_raise_requests_name_the_field(overrides: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "idempotency_key": "k", "case_id": "6f1c0f0e-1d2b-4c3a-9e8f-000000000001", "measures": ["CCTV"],
        "priority": "SECURITY", "reason": "r", "source": "CSO",
    }
    fields.update(overrides)
    with pytest.raises(InvalidArgument) as caught:
        commands.parse(commands.RaiseWorkOrder, fields)
    assert field in [v.field for v in caught.value.violations]


# -- evidence before repair ----------------------------------------------------------------


def test_damage_repair_does_not_start_without_a_before_photo(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app))
    with pytest.raises(PreconditionFailed, match="BEFORE"):
        app.start_work(order.id, CHO)
    evidence = attach(app, order, "BEFORE")
    started = app.start_work(order.id, CHO)
    assert started.status == "IN_PROGRESS"
    assert evidence["attached_by"] == "cho-7" and evidence["attached_at"] == GOOD_FRIDAY_EVENING


def test_non_damage_work_starts_without_a_photo(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["FIREPROOF_LETTERBOX"], priority="SECURITY")
    assert app.start_work(order.id, CHO).status == "IN_PROGRESS"


def test_evidence_is_stored_content_addressed(app: RepairsApplication, tmp_path: Path) -> None:
    import hashlib

    order = raise_order(app, open_case(app))
    evidence = attach(app, order, "BEFORE")
    digest = hashlib.sha256(PHOTO).hexdigest()
    assert evidence["sha256"] == digest and evidence["size_bytes"] == len(PHOTO)
    assert app.blobs.get(evidence["reference"]) == PHOTO
    assert (tmp_path / "repairs" / "blobs" / digest[:2] / digest[2:4] / digest).read_bytes() == PHOTO
    again = attach(app, order, "BEFORE")
    assert again["evidence_id"] == evidence["evidence_id"]
    assert len(app.work_order(order.id, CHO).evidence) == 1


def test_blob_directory_is_configurable(tmp_path: Path, clock: Any) -> None:
    from caseplatform.settings import PlatformSettings
    from repairs.settings import RepairsSettings

    elsewhere = tmp_path / "elsewhere"
    app = RepairsApplication(PlatformSettings(casework_data_dir=tmp_path / "data"), repairs_settings=RepairsSettings(blob_dir=elsewhere))
    assert isinstance(app.blobs, LocalBlobStore) and app.blobs.root == elsewhere
    evidence = attach(app, raise_order(app, open_case(app)), "BEFORE")
    assert (elsewhere / evidence["sha256"][:2]).is_dir()


# -- lock change in a joint tenancy --------------------------------------------------------


def approve(app: RepairsApplication, order: WorkOrder, actor, role: str = "APPROVER_CSO") -> WorkOrder:
    command = commands.parse(
        commands.ApproveLockChange,
        {"work_order_id": str(order.id), "approver_role": role, "reason": "remaining joint tenant at risk"},
    )
    return app.approve_lock_change(command, actor)


def test_joint_tenancy_lock_change_needs_approval(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["LOCK_CHANGE"], priority="SECURITY", joint_tenancy=True)
    with pytest.raises(PreconditionFailed, match="approval"):
        app.start_work(order.id, CHO)
    approved = approve(app, order, CSO)
    assert approved.approval["approved_by"] == "cso-2"
    assert approved.approval["reason"] == "remaining joint tenant at risk"
    assert app.start_work(order.id, CHO).status == "IN_PROGRESS"


def test_line_manager_may_approve_but_not_a_cho(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["LOCK_CHANGE"], priority="SECURITY", joint_tenancy=True)
    with pytest.raises(PermissionDenied):
        approve(app, order, CHO, "APPROVER_CSO")
    with pytest.raises(PermissionDenied):
        approve(app, order, CHO, "APPROVER_LINE_MANAGER")
    assert approve(app, order, LINE_MANAGER, "APPROVER_LINE_MANAGER").approval["approver_role"] == "APPROVER_LINE_MANAGER"


def test_sole_tenancy_lock_change_needs_no_approval(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["LOCK_CHANGE"], priority="SECURITY")
    with pytest.raises(PreconditionFailed):
        approve(app, order, CSO)
    assert app.start_work(order.id, CHO).status == "IN_PROGRESS"


# -- completion and cancellation -----------------------------------------------------------


def test_completion_needs_after_evidence_and_says_if_on_time(app: RepairsApplication, clock: Any) -> None:
    order = raise_order(app, open_case(app))
    attach(app, order, "BEFORE")
    app.start_work(order.id, CHO)
    with pytest.raises(PreconditionFailed, match="AFTER"):
        app.complete_work(order.id, CHO)
    attach(app, order, "AFTER", content=b"after photo")
    clock.advance(timedelta(hours=3))
    done = app.complete_work(order.id, CHO)
    assert (done.status, done.on_time) == ("COMPLETED", True)


def test_late_completion_is_not_on_time(app: RepairsApplication, clock: Any) -> None:
    order = raise_order(app, open_case(app), measures=["CCTV"], priority="SECURITY")
    app.start_work(order.id, CHO)
    attach(app, order, "AFTER")
    clock.advance(timedelta(hours=25))
    assert app.complete_work(order.id, CHO).on_time is False


def test_completion_before_start_is_refused(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["CCTV"], priority="SECURITY")
    attach(app, order, "AFTER")
    with pytest.raises(PreconditionFailed, match="not started"):
        app.complete_work(order.id, CHO)


def test_cancelled_order_cannot_start_and_completed_cannot_cancel(app: RepairsApplication) -> None:
    case_id = open_case(app)
    order = raise_order(app, case_id, measures=["CCTV"], priority="SECURITY")
    cancelled = app.cancel_work_order(
        commands.parse(commands.CancelWorkOrder, {"work_order_id": str(order.id), "reason": "victim moved"}), CHO
    )
    assert (cancelled.status, cancelled.cancel_reason) == ("CANCELLED", "victim moved")
    with pytest.raises(PreconditionFailed):
        app.start_work(order.id, CHO)
    other = raise_order(app, case_id, key="wo-2", measures=["CCTV"], priority="SECURITY")
    app.start_work(other.id, CHO)
    attach(app, other, "AFTER")
    app.complete_work(other.id, CHO)
    with pytest.raises(PreconditionFailed):
        app.cancel_work_order(
            commands.parse(commands.CancelWorkOrder, {"work_order_id": str(other.id), "reason": "x"}), CHO
        )


# -- contractors ---------------------------------------------------------------------------


def test_contractor_sees_and_reports_only_their_own_jobs(app: RepairsApplication) -> None:
    case_id = open_case(app)
    mine = raise_order(app, case_id, key="a", measures=["EXTRA_LOCKS"], priority="SECURITY")
    theirs = raise_order(app, case_id, key="b", measures=["CCTV"], priority="SECURITY")
    assign(app, mine, "acme-builders")
    assign(app, theirs, "other-locks")
    jobs = app.my_jobs(ACME)
    assert [j.id for j in jobs] == [mine.id]
    assert jobs[0].sensitivity_instruction == SENSITIVITY_INSTRUCTION
    report = commands.parse(commands.ReportProgress, {"work_order_id": str(mine.id), "note": "fitted"})
    assert app.report_progress(report, ACME).progress[0]["note"] == "fitted"
    with pytest.raises(PermissionDenied):
        app.report_progress(report, OTHER)
    with pytest.raises(PermissionDenied):
        app.start_work(theirs.id, ACME)
    with pytest.raises(PermissionDenied):
        app.work_orders(UUID(case_id), ACME)
    with pytest.raises(PermissionDenied):
        app.my_jobs(CHO)
    with pytest.raises(PermissionDenied):
        app.report_progress(report, CHO)


def test_reassigning_moves_the_job(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["CCTV"], priority="SECURITY")
    assign(app, order, "other-locks")
    assign(app, order, "acme-builders")
    assert [j.id for j in app.my_jobs(ACME)] == [order.id]
    assert app.my_jobs(OTHER) == []


# -- contracts -----------------------------------------------------------------------------


def test_published_events_carry_no_reasons_or_notes(app: RepairsApplication) -> None:
    order = raise_order(app, open_case(app), measures=["LOCK_CHANGE", "EMERGENCY_REPAIR_SECURING"], joint_tenancy=True)
    attach(app, order, "BEFORE")
    assign(app, order)
    approve(app, order, CSO)
    app.start_work(order.id, CHO)
    app.report_progress(commands.parse(commands.ReportProgress, {"work_order_id": str(order.id), "note": "secret note"}), ACME)
    attach(app, order, "AFTER", content=b"after")
    app.complete_work(order.id, CHO)
    payloads = contracts(app)
    names = [type(p).__name__ for p in payloads]
    assert names == [
        "CaseFileOpened", "WorkOrderRaised", "EvidenceAttached", "ContractorAssigned", "LockChangeApproved",
        "WorkStarted", "EvidenceAttached", "WorkCompleted",
    ]
    raised = payloads[1]
    assert isinstance(raised, events_pb2.WorkOrderRaised)
    assert raised.deadline.kind == "REPAIRS_EMERGENCY" and raised.joint_tenancy
    completed = payloads[-1]
    assert completed.on_time and completed.deadline.kind == "REPAIRS_EMERGENCY"
    assert all(p.case_id == order.case_id for p in payloads)
    wire = b"".join(p.SerializeToString() for p in payloads)
    for private in (b"window broken", b"remaining joint tenant", b"secret note", b"local:sha256"):
        assert private not in wire


def test_london_time_deadline_date(app: RepairsApplication, clock: Any) -> None:
    clock.set(datetime(2027, 3, 26, 23, 30, tzinfo=LONDON))
    order = raise_order(app, open_case(app))
    assert order.deadline["due_date"] == "2027-03-27"
