"""At the meeting, on the application with a real store: attendance and persistent absence,
information shared, the action plan (deadlines, completion notes, reopening, agency requests)
and MARAC-to-MARAC transfer with history and open actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from caseplatform.calendar import LONDON
from caseplatform.errors import Conflict, InvalidArgument, NotFound, PreconditionFailed
from caseplatform.testing import controlled_clock
from casework.marac.v1 import marac_pb2
from casework.repairs.v1 import repairs_pb2
from marac import commands
from marac.application import MaracApplication

from .helpers import (
    CHO,
    MONDAY,
    POLICE,
    Feed,
    agree,
    app_for,
    attend,
    case_id_for,
    published,
    schedule,
)


@pytest.fixture
def clock() -> Iterator[Any]:
    with controlled_clock(MONDAY) as c:
        yield c


@pytest.fixture
def app(tmp_path: Path, clock: Any) -> MaracApplication:
    return app_for(tmp_path)


@pytest.fixture
def referred(app: MaracApplication) -> str:
    """A case referred to the Torfaen MARAC (and disclosed to marac by intake)."""
    feed = Feed(app)
    case_id = case_id_for("referred")
    feed.disclosure(case_id)
    feed.marac_referral(case_id, subject_ref="T-1", sent_at=MONDAY)
    return case_id


@pytest.fixture
def meeting(app: MaracApplication) -> Any:
    return schedule(app, "torfaen", "2027-03-18")


def complete(app: MaracApplication, action: Any, note: str, actor=CHO) -> Any:
    return app.complete_action(
        commands.parse(commands.CompleteAction, {"action_id": str(action.id), "completion_note": note}), actor
    )


# -- attendance ----------------------------------------------------------------------------


def test_an_agency_absent_from_3_of_the_last_4_meetings_is_reported_once(app: MaracApplication) -> None:
    meetings = [schedule(app, "torfaen", d) for d in ("2027-01-07", "2027-01-21", "2027-02-04", "2027-02-18")]
    for m, status in zip(meetings, ["ABSENT", "PRESENT", "ABSENT", "DEPUTY"], strict=True):
        attend(app, m, "probation", status)  # absent 2 of 4: not persistent
    for m, status in zip(meetings, ["ABSENT", "PRESENT", "ABSENT", "ABSENT"], strict=True):
        attend(app, m, "gwent-police", status)
    attend(app, meetings[3], "gwent-police", "ABSENT")  # recorded again: nothing new

    (report,) = [e.payload for e in published(app, ["PersistentAbsence"])]
    assert (report.area, report.agency, report.meeting_id, report.absences, report.of_meetings) == (
        "torfaen", "gwent-police", str(meetings[3].id), 3, 4,
    )
    recorded = [e.payload for e in published(app, ["AttendanceRecorded"])]
    assert len(recorded) == 8 and all(not hasattr(p, "representative") for p in recorded)
    assert app.meeting(meetings[0].id).attendance["probation"]["representative"] == "Rep A"


# -- information shared --------------------------------------------------------------------


def test_information_shared_is_confirmed_proportionate_and_stays_off_kafka(
    app: MaracApplication, referred: str, meeting: Any
) -> None:
    data = {
        "meeting_id": str(meeting.id), "case_id": referred, "agency": "gwent-police",
        "categories": ["RISK_HISTORY", "CRIMINAL_JUSTICE"], "summary": "two call-outs this month",
    }
    with pytest.raises(InvalidArgument) as refused:
        commands.parse(commands.RecordInformationShared, data)
    assert refused.value.violations[0].field == "relevant_and_proportionate"

    case = app.record_information_shared(
        commands.parse(commands.RecordInformationShared, {**data, "relevant_and_proportionate": True}), POLICE
    )
    assert case.information_shared[0]["summary"] == "two call-outs this month"
    (shared,) = published(app, ["InformationShared"])
    assert list(shared.payload.categories) == [marac_pb2.RISK_HISTORY, marac_pb2.CRIMINAL_JUSTICE]
    assert b"call-outs" not in shared.payload.SerializeToString()


# -- the action plan -----------------------------------------------------------------------


def test_a_landlord_target_hardening_action_carries_its_measures_and_a_deadline(
    app: MaracApplication, referred: str, meeting: Any
) -> None:
    action = agree(app, referred, meeting)
    (agreed,) = published(app, ["ActionAgreed"])
    p = agreed.payload
    assert agreed.case_id == referred
    assert (p.kind, p.source, p.owning_agency, p.landlord_owned, p.area, p.meeting_id) == (
        marac_pb2.TARGET_HARDENING, marac_pb2.MARAC_MEETING, "landlord", True, "torfaen", str(meeting.id),
    )
    assert list(p.measures) == [repairs_pb2.EXTRA_LOCKS, repairs_pb2.FIREPROOF_LETTERBOX]
    assert (p.deadline.kind, p.deadline.due_date, p.deadline.clock_id) == (
        "MARAC_ACTION", "2027-03-22", f"marac-action:{action.id}",
    )
    assert p.deadline.due_at.ToDatetime().isoformat() == "2027-03-23T00:00:00"  # end of the 22nd (GMT)
    assert b"offer target hardening" not in p.SerializeToString()


def test_agreeing_again_with_the_same_key_is_the_same_action(app: MaracApplication, referred: str, meeting: Any) -> None:
    first = agree(app, referred, meeting)
    again, created = app.agree_action(
        commands.parse(commands.AgreeAction, {
            "idempotency_key": "act-1", "case_id": referred, "meeting_id": str(meeting.id), "owning_agency": "landlord",
            "kind": "TARGET_HARDENING", "description": "offer target hardening", "due_date": "2027-03-22",
            "source": "MARAC_MEETING", "measures": ["EXTRA_LOCKS", "FIREPROOF_LETTERBOX"],
        }), CHO,
    )
    assert again.id == first.id and not created
    with pytest.raises(Conflict):
        agree(app, referred, meeting, due_date="2027-03-25")
    assert len(app.actions(referred)) == 1


def test_an_action_cannot_complete_without_a_note(app: MaracApplication, referred: str, meeting: Any) -> None:
    action = agree(app, referred, meeting)
    for note in ("", "   "):
        with pytest.raises(InvalidArgument) as refused:
            complete(app, action, note)
        assert refused.value.violations[0].field == "completion_note"
    assert app.action(action.id).is_open and published(app, ["ActionCompleted"]) == []


def test_completion_meets_the_action_s_clock_and_reopening_starts_another(
    app: MaracApplication, referred: str, meeting: Any, clock: Any
) -> None:
    action = agree(app, referred, meeting)
    clock.set(datetime(2027, 3, 22, 16, 0, tzinfo=LONDON))
    done = complete(app, action, "extra locks and letterbox fitted")
    assert done.on_time and done.completion_note == "extra locks and letterbox fitted"
    (completed,) = [e.payload for e in published(app, ["ActionCompleted"])]
    (met,) = completed.deadlines_met
    assert (met.kind, met.clock_id, met.on_time) == ("MARAC_ACTION", f"marac-action:{action.id}", True)
    assert b"letterbox fitted" not in completed.SerializeToString()

    reopen = {"action_id": str(action.id), "reason": "back door not covered"}
    with pytest.raises(InvalidArgument):  # a reopened action is not due in the past
        app.reopen_action(commands.parse(commands.ReopenAction, {**reopen, "due_date": "2027-03-01"}), CHO)
    reopened = app.reopen_action(commands.parse(commands.ReopenAction, {**reopen, "due_date": "2027-03-29"}), CHO)
    assert reopened.is_open and len(reopened.reopened) == 1
    (event,) = [e.payload for e in published(app, ["ActionReopened"])]
    assert (event.deadline.clock_id, event.deadline.due_date) == (f"marac-action:{action.id}:reopened-1", "2027-03-29")
    with pytest.raises(PreconditionFailed):
        app.reopen_action(commands.parse(commands.ReopenAction, reopen), CHO)  # already open


def test_a_marac_action_needs_its_meeting_and_target_hardening_its_measures(
    app: MaracApplication, referred: str, meeting: Any
) -> None:
    with pytest.raises(InvalidArgument) as no_meeting:
        agree(app, referred, None)
    assert no_meeting.value.violations[0].field == "meeting_id"
    with pytest.raises(InvalidArgument) as no_measures:
        agree(app, referred, meeting, measures=[])
    assert no_measures.value.violations[0].field == "measures"
    with pytest.raises(InvalidArgument) as past:
        agree(app, referred, meeting, due_date="2027-02-26")
    assert past.value.violations[0].field == "due_date"
    with pytest.raises(NotFound):
        agree(app, case_id_for("never-heard-of"), meeting)


def test_a_request_from_another_agency_uses_the_same_mechanism(app: MaracApplication) -> None:
    """Seed 001 §8: tenancy advice, moving, extra security — recorded with a completion note."""
    case_id = case_id_for("agency-request")
    Feed(app).disclosure(case_id)  # a disclosed case that never went to MARAC
    action = agree(
        app, case_id, None, POLICE, idempotency_key="req-1", source="AGENCY_REQUEST", kind="TENANCY_ADVICE",
        description="advise on succession to the tenancy", measures=[],
    )
    assert (action.source, action.meeting_id, action.owning_agency) == ("AGENCY_REQUEST", "", "landlord")
    (agreed,) = [e.payload for e in published(app, ["ActionAgreed"])]
    assert agreed.source == marac_pb2.AGENCY_REQUEST and agreed.landlord_owned
    assert complete(app, action, "advice given by phone").completion_note == "advice given by phone"


# -- transfer ------------------------------------------------------------------------------


def test_a_transfer_moves_the_case_with_its_history_and_open_actions(
    app: MaracApplication, referred: str, meeting: Any
) -> None:
    open_action = agree(app, referred, meeting)
    done = agree(app, referred, meeting, idempotency_key="act-2", kind="CHECK_ASB_HISTORY", measures=[])
    complete(app, done, "no ASB on record")
    app.record_information_shared(commands.parse(commands.RecordInformationShared, {
        "meeting_id": str(meeting.id), "case_id": referred, "agency": "gwent-police", "categories": ["RISK_HISTORY"],
        "summary": "call-outs", "relevant_and_proportionate": True,
    }), POLICE)
    receiving = schedule(app, "blaenau-gwent", "2027-03-25")

    case = app.transfer_case(
        commands.parse(commands.TransferCase, {"case_id": referred, "to_area": "blaenau-gwent", "reason": "victim moved"}), CHO
    )
    assert case.area == "blaenau-gwent"
    assert len(case.referrals) == 1 and case.information_shared[0]["meeting_id"] == str(meeting.id)
    assert {a.id: a.is_open for a in app.actions(referred)} == {open_action.id: True, done.id: False}
    (transferred,) = [e.payload for e in published(app, ["CaseTransferred"])]
    assert (transferred.from_area, transferred.to_area, list(transferred.open_action_ids)) == (
        "torfaen", "blaenau-gwent", [str(open_action.id)],
    )
    (entry,) = app.case_list(receiving.id)
    assert (entry["case_id"], entry["transferred_from"], entry["risk_grade"]) == (referred, "torfaen", "HIGH")
    with pytest.raises(PreconditionFailed):  # information for the case now goes to the receiving MARAC
        app.record_information_shared(commands.parse(commands.RecordInformationShared, {
            "meeting_id": str(meeting.id), "case_id": referred, "agency": "gwent-police",
            "categories": ["RISK_HISTORY"], "summary": "more", "relevant_and_proportionate": True,
        }), POLICE)
