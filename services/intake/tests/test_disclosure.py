"""Intake's rules at the application level: deadlines, idempotency, validation (no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from caseplatform.calendar import LONDON
from caseplatform.clock import ControlledClock
from caseplatform.errors import Conflict, InvalidArgument, NotFound
from caseplatform.identity import Actor
from caseplatform.settings import PlatformSettings
from caseplatform.store import Sql
from caseplatform.testing import controlled_clock
from caseplatform.validation import parse_command
from intake.application import IntakeApplication
from intake.commands import ReasonedCommand, SubmitDisclosure

CHO = Actor("landlord", "CHO", "u-1")
GOOD_FRIDAY_EVENING = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)


def command(**overrides: object) -> SubmitDisclosure:
    data: dict[str, object] = {
        "idempotency_key": "k-1",
        "received_at": GOOD_FRIDAY_EVENING.isoformat(),
        "channel": "VICTIM_DIRECT",
        "victim": {"tenant_ref": "T-1", "name": "Synthetic Person", "address": {"line1": "1 Test St", "postcode": "np4 6yb"}},
        "children": [{"age": 4}, {"age": 9}],
    }
    data.update(overrides)
    return parse_command(SubmitDisclosure, data)


@pytest.fixture
def clock() -> Iterator[ControlledClock]:
    with controlled_clock(GOOD_FRIDAY_EVENING + timedelta(minutes=20)) as clock:
        yield clock


@pytest.fixture
def app(tmp_path: Path, clock: ControlledClock) -> IntakeApplication:
    return IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))


def deadlines(case: object) -> dict[str, str]:
    return {d["kind"]: d["due_date"] for d in case.deadlines}  # type: ignore[attr-defined]


def test_good_friday_disclosure_with_children_starts_three_deadlines(app: IntakeApplication) -> None:
    case = app.submit_disclosure(command(), CHO).case
    assert deadlines(case) == {
        "SAFE_CONTACT": "2027-03-30",        # Easter Monday is a bank holiday
        "CASE_RECORDED": "2027-03-30",
        "CHILDRENS_REFERRAL": "2027-03-26",  # before midnight, the day received
    }
    assert case.children_ages == [4, 9]
    assert case.postcode_district == "NP4"
    assert app.sealer.open(case.victim["address"]["postcode"]) == "NP4 6YB"  # sealed at rest (ADR 0022)


def test_no_children_no_childrens_referral_deadline(app: IntakeApplication) -> None:
    case = app.submit_disclosure(command(children=[]), CHO).case
    assert "CHILDRENS_REFERRAL" not in deadlines(case)


def test_christmas_eve_is_due_on_the_29th(app: IntakeApplication, clock: ControlledClock) -> None:
    received = datetime(2026, 12, 24, 10, 0, tzinfo=LONDON)
    clock.set(received)
    case = app.submit_disclosure(command(received_at=received.isoformat()), CHO).case
    assert date.fromisoformat(deadlines(case)["SAFE_CONTACT"]) == date(2026, 12, 29)


def test_the_same_key_twice_creates_one_case(app: IntakeApplication) -> None:
    first = app.submit_disclosure(command(), CHO)
    second = app.submit_disclosure(command(), CHO)
    assert first.created and not second.created
    assert first.case.id == second.case.id
    assert Sql(app).event_counts() == {
        "intake.domain.case:Case.DisclosureReceived": 1,
        "intake.domain.case:VictimIndex.VictimIndexed": 1,
    }


def test_keys_are_scoped_to_the_calling_agency(app: IntakeApplication) -> None:
    ours = app.submit_disclosure(command(), CHO).case
    victim = {"tenant_ref": "T-2", "name": "Another Person", "address": {"line1": "2 Test St", "postcode": "NP44 1AB"}}
    theirs = app.submit_disclosure(command(victim=victim), Actor("gwent-police", "officer", "p-1")).case
    assert ours.id != theirs.id


def test_a_reused_key_with_other_details_is_refused(app: IntakeApplication) -> None:
    app.submit_disclosure(command(), CHO)
    with pytest.raises(Conflict, match="idempotency_key"):
        app.submit_disclosure(command(children=[]), CHO)


def test_received_in_the_future_is_refused_and_nothing_stored(
    app: IntakeApplication, clock: ControlledClock
) -> None:
    future = (clock.now() + timedelta(hours=2)).isoformat()
    with pytest.raises(InvalidArgument) as raised:
        app.submit_disclosure(command(received_at=future), CHO)
    assert [v.field for v in raised.value.violations] == ["received_at"]
    assert app.recorder.max_notification_id() is None


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"channel": "CHANNEL_UNSPECIFIED"}, "channel"),
        ({"channel": 42}, "channel"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"received_at": "2027-03-26T17:30:00"}, "received_at"),  # no timezone: ambiguous
        ({"children": [{"age": 4}, {"age": 19}]}, "children[1].age"),
        ({"victim": {"name": "X", "address": {"line1": "1 St", "postcode": "NOT A POSTCODE"}}}, "victim.address.postcode"),
        ({"victim": {"name": "", "address": {"line1": "1 St", "postcode": "NP4 6YB"}}}, "victim.name"),
    ],
)
def test_malformed_commands_name_the_field(override: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        command(**override)
    assert field in [v.field for v in raised.value.violations]


def test_unknown_case_is_not_found(app: IntakeApplication) -> None:
    from uuid import uuid4

    with pytest.raises(NotFound):
        app.get_case(uuid4())


def test_recorded_at_is_kept_apart_from_received_at(app: IntakeApplication, clock: ControlledClock) -> None:
    case = app.submit_disclosure(command(), CHO).case
    assert case.received_at == GOOD_FRIDAY_EVENING.astimezone(UTC)
    assert case.recorded_at == clock.now()  # recorded 20 minutes after it was received


def test_a_case_changed_by_another_writer_mid_command_is_read_again_not_an_error(
    app: IntakeApplication, tmp_path: Path
) -> None:
    # A policy (risk grade, MARAC action) or a second replica saves the open case between this
    # command's read and its save: the store refuses the stale version and the command runs again.
    case = app.submit_disclosure(command(), CHO).case
    other_writer = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    save = app.save
    interleaved: list[bool] = []

    def save_after_another_writer(*aggregates: object, **kwargs: object) -> object:
        if not interleaved:
            interleaved.append(True)
            other_writer.request_legal_advice(parse_command(ReasonedCommand, {
                "case_id": str(case.id), "idempotency_key": "legal-1", "reason": "non-molestation order",
            }), CHO)
        return save(*aggregates, **kwargs)

    app.save = save_after_another_writer  # type: ignore[method-assign]
    second = app.submit_disclosure(command(idempotency_key="k-2", children=[]), CHO)

    assert interleaved and second.linked and second.case.id == case.id
    counts = Sql(app).event_counts()
    assert counts["intake.domain.case:Case.FurtherDisclosureReceived"] == 1
    assert counts["intake.domain.case:Case.LegalAdviceRequested"] == 1
