"""Recording DASH assessments at the application level: grading, history, escalation, the
assessment deadline, idempotency, validation and what goes on Kafka (no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from caseplatform.clock import ControlledClock
from caseplatform.errors import Conflict, InvalidArgument, NotFound
from caseplatform.identity import Actor
from caseplatform.settings import PlatformSettings
from caseplatform.testing import controlled_clock
from casework.risk.v1 import events_pb2, risk_pb2
from risk.application import RiskApplication
from risk.commands import RecordDashAssessment, parse_record_dash_assessment
from risk.domain.grading import Bands
from risk.settings import RiskSettings
from risk.translation import to_contract

from .helpers import CHO, DUE_END_OF_TUESDAY, GOOD_FRIDAY_EVENING, answers, open_case

POLICE = Actor("gwent-police", "officer", "pc-1")


@pytest.fixture
def clock() -> Iterator[ControlledClock]:
    with controlled_clock(GOOD_FRIDAY_EVENING + timedelta(minutes=30)) as clock:
        yield clock


@pytest.fixture
def app(tmp_path: Path, clock: ControlledClock) -> RiskApplication:
    return RiskApplication(PlatformSettings(casework_data_dir=tmp_path))


@pytest.fixture
def case_id(app: RiskApplication) -> str:
    return open_case(app)


def command(case: str, **overrides: Any) -> RecordDashAssessment:
    data: dict[str, Any] = {
        "idempotency_key": "dash-1",
        "case_id": case,
        "answers": answers(yes=5),
        "safe_to_talk": True,
        "assessed_by": "cho-7",
        "source": "LANDLORD",
        "completed_at": (GOOD_FRIDAY_EVENING + timedelta(minutes=20)).isoformat(),
    }
    data.update(overrides)
    return parse_record_dash_assessment(data)


def published(app: RiskApplication) -> list[Any]:
    """Every contract message risk would put on Kafka, in store order."""
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    outgoing = [to_contract(app.mapper.to_domain_event(n)) for n in notifications]
    return [o.payload for o in outgoing if o is not None]


def of_type(app: RiskApplication, kind: type) -> list[Any]:
    return [p for p in published(app) if isinstance(p, kind)]


# -- grading through the application ---------------------------------------------------------


def test_fourteen_yes_is_high_visible_high_risk(app: RiskApplication, case_id: str) -> None:
    recorded = app.record_dash_assessment(command(case_id, answers=answers(yes=14)), CHO)
    a = recorded.assessment
    assert (a["grade"], a["triggers"], a["yes_count"], recorded.created) == ("HIGH", ["visible_high_risk"], 14, True)


def test_not_known_answers_are_not_yes(app: RiskApplication, case_id: str) -> None:
    a = app.record_dash_assessment(command(case_id, answers=answers(yes=13, other="NOT_KNOWN")), CHO).assessment
    assert (a["grade"], a["yes_count"], a["triggers"]) == ("MEDIUM", 13, [])


def test_thirteen_yes_with_three_callouts_is_high_by_escalation(app: RiskApplication, case_id: str) -> None:
    a = app.record_dash_assessment(command(case_id, answers=answers(yes=13), police_callouts_12_months=3), CHO).assessment
    assert (a["grade"], a["triggers"]) == ("HIGH", ["escalation"])


def test_bands_come_from_the_environment(tmp_path: Path, clock: ControlledClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_MEDIUM_MIN_YES", "8")
    assert RiskSettings().bands() == Bands(medium_min_yes=8)
    app = RiskApplication(PlatformSettings(casework_data_dir=tmp_path))
    case_id = open_case(app)
    assert app.record_dash_assessment(command(case_id, answers=answers(yes=8)), CHO).assessment["grade"] == "MEDIUM"


def test_a_band_setting_beyond_fourteen_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_MEDIUM_MIN_YES", "15")
    with pytest.raises(ValueError, match="medium_min_yes"):
        RiskSettings()


def test_a_police_dash_is_recorded_with_its_grade_not_re_scored(app: RiskApplication, case_id: str) -> None:
    police_dash = command(
        case_id, checklist="POLICE_DASH", answers=answers(yes=20, total=27), police_grade="MEDIUM",
        source="POLICE", safe_to_talk=False, assessed_by="gwent-police/pc-1",
    )
    a = app.record_dash_assessment(police_dash, POLICE).assessment
    assert (a["grade"], a["triggers"], a["checklist"], a["source"]) == ("MEDIUM", [], "POLICE_DASH", "POLICE")
    assessed = of_type(app, events_pb2.RiskAssessed)[-1]
    assert assessed.checklist == risk_pb2.POLICE_DASH and assessed.grade == risk_pb2.MEDIUM


# -- history and escalation ------------------------------------------------------------------


def test_reassessment_keeps_history_oldest_first(app: RiskApplication, case_id: str, clock: ControlledClock) -> None:
    first = GOOD_FRIDAY_EVENING + timedelta(minutes=20)
    app.record_dash_assessment(command(case_id, answers=answers(yes=4), completed_at=first.isoformat()), CHO)
    clock.advance(timedelta(days=3))
    second = first + timedelta(days=3)
    app.record_dash_assessment(
        command(case_id, idempotency_key="dash-2", answers=answers(yes=11), completed_at=second.isoformat()), CHO
    )
    record = app.risk_record(uuid_of(case_id))
    assert [(a["grade"], a["yes_count"], a["completed_at"]) for a in record.history()] == [
        ("STANDARD", 4, first.astimezone(UTC)), ("MEDIUM", 11, second.astimezone(UTC)),
    ]
    assert record.current_grade == "MEDIUM"
    assert record.history()[1]["recorded_at"] == clock.now()


def test_a_rise_is_escalated_and_a_fall_is_not(app: RiskApplication, case_id: str, clock: ControlledClock) -> None:
    start = GOOD_FRIDAY_EVENING + timedelta(minutes=20)
    steps = [("a", 11, "MEDIUM"), ("b", 14, "HIGH"), ("c", 2, "STANDARD"), ("d", 2, "STANDARD")]
    escalated = []
    for day, (key, yes, grade) in enumerate(steps):
        clock.set(start + timedelta(days=day, minutes=10))
        completed = (start + timedelta(days=day)).isoformat()
        a = app.record_dash_assessment(command(case_id, idempotency_key=key, answers=answers(yes=yes), completed_at=completed), CHO).assessment
        assert a["grade"] == grade
        escalated.append(a["escalated"])
    assert escalated == [False, True, False, False]  # the first is no rise: nothing came before it
    rises = of_type(app, events_pb2.RiskEscalated)
    assert len(rises) == 1
    (rise,) = rises
    record = app.risk_record(uuid_of(case_id))
    history = record.history()
    assert (rise.case_id, rise.from_grade, rise.to_grade) == (case_id, risk_pb2.MEDIUM, risk_pb2.HIGH)
    assert (rise.assessment_id, rise.previous_assessment_id) == (history[1]["assessment_id"], history[0]["assessment_id"])
    assert record.current_grade == "STANDARD"


def test_an_older_assessment_received_late_takes_its_place_and_is_no_rise(app: RiskApplication, case_id: str) -> None:
    today = GOOD_FRIDAY_EVENING + timedelta(minutes=20)
    app.record_dash_assessment(command(case_id, answers=answers(yes=3), completed_at=today.isoformat()), CHO)
    last_week = today - timedelta(days=7)
    police_dash = command(
        case_id, idempotency_key="police-1", checklist="POLICE_DASH", answers=[], police_grade="HIGH",
        source="POLICE", completed_at=last_week.isoformat(),
    )
    late = app.record_dash_assessment(police_dash, POLICE).assessment
    assert not late["escalated"]
    record = app.risk_record(uuid_of(case_id))
    assert [a["source"] for a in record.history()] == ["POLICE", "LANDLORD"]
    assert record.current_grade == "STANDARD"
    assert of_type(app, events_pb2.RiskEscalated) == []


# -- the assessment deadline -----------------------------------------------------------------


def test_the_first_assessment_meets_the_deadline_and_says_by_whom(app: RiskApplication, case_id: str) -> None:
    record = app.risk_record(uuid_of(case_id))
    assert record.assessment_due and record.deadline["due_date"] == "2027-03-30"
    app.record_dash_assessment(command(case_id), CHO)
    app.record_dash_assessment(command(case_id, idempotency_key="dash-2"), CHO)
    record = app.risk_record(uuid_of(case_id))
    assert not record.assessment_due
    first, second = record.history()
    assert record.deadline_outcome == {"assessment_id": first["assessment_id"], "source": "LANDLORD", "on_time": True}
    assert (first["satisfies_deadline"], second["satisfies_deadline"]) == (True, False)
    events = of_type(app, events_pb2.RiskAssessed)
    assert [(e.satisfies_deadline, e.on_time) for e in events] == [(True, True), (False, False)]
    assert events[0].source == risk_pb2.LANDLORD
    assert events[0].deadline.kind == "RISK_ASSESSMENT" and events[0].deadline.due_date == "2027-03-30"
    assert not events[1].HasField("deadline")


def test_recorded_after_the_due_instant_is_late(app: RiskApplication, case_id: str, clock: ControlledClock) -> None:
    clock.set(DUE_END_OF_TUESDAY + timedelta(minutes=1))
    done_in_time = (DUE_END_OF_TUESDAY - timedelta(hours=1)).isoformat()
    app.record_dash_assessment(command(case_id, completed_at=done_in_time), CHO)
    record = app.risk_record(uuid_of(case_id))
    assert record.deadline_outcome is not None and record.deadline_outcome["on_time"] is False
    assert of_type(app, events_pb2.RiskAssessed)[0].on_time is False


def test_recorded_just_before_the_due_instant_is_on_time(app: RiskApplication, case_id: str, clock: ControlledClock) -> None:
    clock.set(DUE_END_OF_TUESDAY - timedelta(seconds=1))
    app.record_dash_assessment(command(case_id, completed_at=(DUE_END_OF_TUESDAY - timedelta(minutes=5)).isoformat()), CHO)
    assert app.risk_record(uuid_of(case_id)).deadline_outcome["on_time"] is True


# -- idempotency and not found ---------------------------------------------------------------


def test_the_same_key_twice_is_one_assessment_and_no_new_event(app: RiskApplication, case_id: str) -> None:
    first = app.record_dash_assessment(command(case_id, answers=answers(yes=14)), CHO)
    before = app.recorder.max_notification_id()
    again = app.record_dash_assessment(command(case_id, answers=answers(yes=14)), CHO)
    assert again.created is False
    assert again.assessment["assessment_id"] == first.assessment["assessment_id"]
    assert app.recorder.max_notification_id() == before
    assert len(app.risk_record(uuid_of(case_id)).history()) == 1


def test_keys_are_scoped_to_the_calling_agency(app: RiskApplication, case_id: str) -> None:
    ours = app.record_dash_assessment(command(case_id), CHO).assessment
    theirs = app.record_dash_assessment(command(case_id), Actor("idva-service", "IDVA", "i-1")).assessment
    assert ours["assessment_id"] != theirs["assessment_id"]


def test_a_reused_key_with_other_answers_is_refused(app: RiskApplication, case_id: str) -> None:
    app.record_dash_assessment(command(case_id), CHO)
    before = app.recorder.max_notification_id()
    with pytest.raises(Conflict, match="idempotency_key"):
        app.record_dash_assessment(command(case_id, answers=answers(yes=6)), CHO)
    assert app.recorder.max_notification_id() == before


def test_an_unknown_case_is_not_found_and_nothing_stored(app: RiskApplication) -> None:
    before = app.recorder.max_notification_id()
    with pytest.raises(NotFound):
        app.record_dash_assessment(command(str(uuid4())), CHO)
    assert app.recorder.max_notification_id() == before


def test_completed_in_the_future_is_refused(app: RiskApplication, case_id: str, clock: ControlledClock) -> None:
    with pytest.raises(InvalidArgument) as raised:
        app.record_dash_assessment(command(case_id, completed_at=(clock.now() + timedelta(hours=1)).isoformat()), CHO)
    assert [v.field for v in raised.value.violations] == ["completed_at"]
    assert app.recorder.max_notification_id() == 1  # only the record opened by intake's event


def test_the_same_disclosure_twice_opens_one_record(app: RiskApplication) -> None:
    first = open_case(app, "same")
    second = open_case(app, "same")
    assert first == second
    assert len(of_type(app, events_pb2.AssessmentRequired)) == 1


# -- validation ------------------------------------------------------------------------------


def fields_of(overrides: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        command(CASE, **overrides)
    return [v.field for v in raised.value.violations]


CASE = "0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"answers": answers(yes=5, total=23)}, "answers"),
        ({"answers": answers(yes=5, total=25)}, "answers"),
        ({"answers": [*answers(5, total=23), {"question": 25, "answer": "NO"}]}, "answers[23].question"),
        ({"answers": [*answers(5, total=23), {"question": 3, "answer": "NO"}]}, "answers[23].question"),
        ({"answers": [{"answer": "YES"}, *answers(0, total=24)[1:]]}, "answers[0].question"),
        ({"answers": [{"question": 1, "answer": "ANSWER_UNSPECIFIED"}, *answers(0)[1:]]}, "answers[0].answer"),
        ({"answers": [{"question": 1, "answer": 9}, *answers(0)[1:]]}, "answers[0].answer"),
        ({"case_id": ""}, "case_id"),
        ({"case_id": "not-a-uuid"}, "case_id"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"checklist": 5}, "checklist"),
        ({"source": "SOURCE_UNSPECIFIED"}, "source"),
        ({"officer_grade": "GRADE_UNSPECIFIED"}, "officer_grade"),
        ({"officer_grade": "HIGH"}, "officer_grade"),  # HIGH is a judgement: give its reason
        ({"professional_judgement_high": True}, "professional_judgement_reason"),
        ({"safe_to_talk": False}, "safe_to_talk"),
        ({"assessed_by": ""}, "assessed_by"),
        ({"assessed_by": "Jane Smith"}, "assessed_by"),  # an id or role, not a name
        ({"completed_at": "2027-03-26T17:50:00"}, "completed_at"),  # no timezone
        ({"police_grade": "HIGH"}, "police_grade"),  # a SafeLives RIC is graded here
        ({"checklist": "POLICE_DASH", "answers": []}, "police_grade"),
        ({"checklist": "POLICE_DASH", "answers": [], "police_grade": "MEDIUM", "officer_grade": "HIGH"}, "officer_grade"),
        ({"checklist": "POLICE_DASH", "answers": answers(0, total=28), "police_grade": "MEDIUM"}, "answers"),
    ],
)
def test_malformed_commands_name_the_field(overrides: dict[str, Any], field: str) -> None:
    assert field in fields_of(overrides)


def test_a_police_dash_needs_no_safe_to_talk_and_may_omit_answers() -> None:
    parsed = command(CASE, checklist="POLICE_DASH", answers=[], police_grade="STANDARD", safe_to_talk=False, source="POLICE")
    assert parsed.yes_count == 0


def test_professional_judgement_with_a_reason_is_accepted() -> None:
    parsed = command(CASE, professional_judgement_high=True, professional_judgement_reason="escalating threats", officer_grade="HIGH")
    assert parsed.professional_judgement_high


def uuid_of(case_id: str):
    from uuid import UUID

    return UUID(case_id)
