"""The Action and MaracCase aggregates on their own: an action cannot complete without a note;
a transfer moves the case with its history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from caseplatform.errors import InvalidArgument, PreconditionFailed
from caseplatform.testing import controlled_clock
from marac.domain.action import Action, clock_id
from marac.domain.marac_case import MaracCase

from .helpers import MONDAY

META: dict[str, Any] = {}
WHO = {"agency": "landlord", "role": "CHO", "user": "cho-7"}


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with controlled_clock(MONDAY) as c:
        yield c


def new_action() -> Action:
    action_id = uuid4()
    due = MONDAY + timedelta(days=7)
    return Action(
        action_id=action_id, case_id="case-1", meeting_id="m-1", area="torfaen", owning_agency="landlord",
        landlord_owned=True, kind="TARGET_HARDENING", source="MARAC_MEETING", description="offer target hardening",
        measures=["EXTRA_LOCKS"], agreed_by=WHO, agreed_at=MONDAY, request_hash="h",
        deadline={"kind": "MARAC_ACTION", "due_at": due.isoformat(), "due_date": due.date().isoformat(),
                  "clock_id": clock_id(action_id)},
        meta=META,
    )


@pytest.mark.parametrize("note", ["", "   "])
def test_an_action_cannot_complete_without_a_note(note: str) -> None:
    action = new_action()
    with pytest.raises(InvalidArgument) as refused:
        action.complete(note=note, completed_by=WHO, completed_at=MONDAY, meta=META)
    assert refused.value.violations[0].field == "completion_note"
    assert action.is_open and len(action.collect_events()) == 1  # only ActionAgreed


def test_completion_records_the_note_and_whether_the_due_date_was_met() -> None:
    action = new_action()
    action.complete(note="locks fitted", completed_by=WHO, completed_at=MONDAY + timedelta(days=8), meta=META)
    assert (action.status, action.completion_note, action.on_time) == ("COMPLETED", "locks fitted", False)
    with pytest.raises(PreconditionFailed):
        action.complete(note="something else", completed_by=WHO, completed_at=MONDAY, meta=META)


def test_a_reopened_action_runs_a_new_clock_and_needs_a_new_note() -> None:
    action = new_action()
    with pytest.raises(PreconditionFailed):
        action.reopen(reason="not yet done", deadline=action.deadline, reopened_at=MONDAY, meta=META)
    action.complete(note="locks fitted", completed_by=WHO, completed_at=MONDAY, meta=META)
    new_deadline = {**action.deadline, "clock_id": clock_id(action.id, 1)}
    action.reopen(reason="lock fitted to the wrong door", deadline=new_deadline, reopened_at=MONDAY, meta=META)
    assert action.is_open and action.completion_note == "" and action.deadline["clock_id"].endswith(":reopened-1")


def test_a_transfer_keeps_the_case_history_and_names_its_open_actions() -> None:
    case = MaracCase(case_id="case-1", area="torfaen", meta=META)
    case.receive_referral(
        case_id="case-1", referral_id="r-1", area="torfaen", subject_ref="T-1", risk_grade="HIGH",
        criteria=["VISIBLE_HIGH_RISK"], children_count=1, referring_agency="landlord", repeat=False,
        received_at=MONDAY, meta=META,
    )
    case.share_information(
        case_id="case-1", meeting_id="m-1", agency="gwent-police", categories=["RISK_HISTORY"],
        summary="two call-outs", recorded_by=WHO, recorded_at=MONDAY, meta=META,
    )
    case.transfer(to_area="blaenau-gwent", reason="victim moved", open_action_ids=["a-1"], transferred_at=MONDAY, meta=META)
    assert case.area == "blaenau-gwent"
    assert [r["referral_id"] for r in case.referrals] == ["r-1"]
    assert case.information_shared[0]["summary"] == "two call-outs"
    assert case.transfers[0] | {} == {
        "from_area": "torfaen", "to_area": "blaenau-gwent", "reason": "victim moved", "open_action_ids": ["a-1"],
        "transferred_at": MONDAY,
    }
    with pytest.raises(PreconditionFailed):
        case.transfer(to_area="blaenau-gwent", reason="again", open_action_ids=[], transferred_at=MONDAY, meta=META)
