"""The case journey after a disclosure: ownership by patch, linking, safe contact, consent,
notes, closing and reopening (DOMAIN.md "The case journey")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from caseplatform.calendar import LONDON
from caseplatform.clock import ControlledClock
from caseplatform.errors import PreconditionFailed
from caseplatform.identity import Actor
from caseplatform.settings import PlatformSettings
from caseplatform.testing import controlled_clock
from caseplatform.validation import parse_command
from intake import commands
from intake.application import IntakeApplication
from intake.domain.patches import UNASSIGNED, PatchRegister, postcode_sector
from intake.translation import to_contract

CHO = Actor("landlord", "CHO", "cho-7")
POLICE = Actor("gwent-police", "DACC officer", "p-3")
MONDAY_0900 = datetime(2027, 4, 5, 9, 0, tzinfo=LONDON)  # a working Monday after Easter


@pytest.fixture
def clock() -> Iterator[ControlledClock]:
    with controlled_clock(MONDAY_0900) as c:
        yield c


@pytest.fixture
def app(tmp_path: Path, clock: ControlledClock) -> IntakeApplication:
    return IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))


def disclosure(key: str = "k-1", tenant: str = "T-1", postcode: str = "NP4 6YB", **extra: Any) -> commands.SubmitDisclosure:
    data: dict[str, Any] = {
        "idempotency_key": key,
        "received_at": (MONDAY_0900 - timedelta(hours=1)).isoformat(),
        "channel": "THIRD_PARTY",
        "victim": {"tenant_ref": tenant, "name": "Synthetic Person", "date_of_birth": "1990-05-01",
                   "address": {"line1": "1 Test St", "postcode": postcode}},
        **extra,
    }
    return parse_command(commands.SubmitDisclosure, data)


def published(app: IntakeApplication, case_id: str) -> Any:
    """What the relay would publish for the case's first stored event."""
    from uuid import UUID

    first = app.events.get(UUID(case_id))
    return to_contract(next(iter(first)))


def change(model: type, **data: Any) -> Any:
    return parse_command(model, data)


def test_the_cho_is_found_from_the_victims_address_sector_before_district() -> None:
    register = PatchRegister([("NP4 6", "cho-a", "Torfaen"), ("NP4", "cho-b", "Torfaen")])
    assert postcode_sector("np46yb") == "NP4 6"
    assert register.owner_of("NP4 6YB").cho == "cho-a"
    assert register.owner_of("NP4 9ZZ").cho == "cho-b"
    assert register.owner_of("CF10 1AA").cho == UNASSIGNED


def test_a_disclosure_is_owned_by_the_patch_cho_and_keeps_initial_considerations(app: IntakeApplication) -> None:
    case = app.submit_disclosure(
        disclosure(perpetrator={"lives_with_victim": True, "is_tenant": True, "relationship": "partner"},
                   vulnerabilities=["hearing impairment"], interpreter_language="Polish",
                   two_staff_to_attend=True, open_tenancy_actions=["RENT_ARREARS"],
                   police_log_number="GP-2027-0001", safe_to_return_home=False), CHO,
    ).case
    assert case.owner == {"cho": "cho-torfaen-central", "area": "Torfaen"}
    assert case.details["perpetrator"]["lives_with_victim"] is True
    assert case.details["open_tenancy_actions"] == ["RENT_ARREARS"]
    assert case.details["safe_to_return_home"] is False
    out = published(app, case.case_id)
    assert out is not None
    assert (out.payload.owner_cho, out.payload.area) == ("cho-torfaen-central", "Torfaen")
    assert out.payload.perpetrator_lives_with_victim and out.payload.police_involved
    assert out.payload.safe_to_return_home_known and not out.payload.safe_to_return_home


def test_safe_contact_is_due_at_the_preferred_time_when_one_is_given(app: IntakeApplication) -> None:
    preferred = MONDAY_0900 + timedelta(hours=30)
    case = app.submit_disclosure(disclosure(safe_contact={"safe_phone": "07700 900123", "preferred_contact_at": preferred.isoformat()}), CHO).case
    assert case.due_at("SAFE_CONTACT") == preferred
    assert case.due_at("CASE_RECORDED").date().isoformat() == "2027-04-06"


def test_safe_contact_details_never_leave_intake(app: IntakeApplication) -> None:
    case = app.submit_disclosure(disclosure(safe_contact={"safe_phone": "07700 900123", "safe_times": "after 10"}), CHO).case
    out = published(app, case.case_id)
    assert out is not None
    wire = out.payload.SerializeToString()
    for secret in (b"07700 900123", b"after 10", b"Synthetic Person", b"1 Test St", b"1990-05-01"):
        assert secret not in wire


def test_a_second_disclosure_about_the_same_victim_links_to_the_open_case(app: IntakeApplication) -> None:
    first = app.submit_disclosure(disclosure("k-1"), CHO)
    second = app.submit_disclosure(disclosure("dacc-77", children=[{"age": 5}]), POLICE)
    assert second.linked and not second.created
    assert second.case.id == first.case.id
    assert second.case.disclosures == 2 and second.case.children_ages == [5]
    retried = app.submit_disclosure(disclosure("dacc-77", children=[{"age": 5}]), POLICE)
    assert retried.linked and retried.case.disclosures == 2  # the same request again: nothing new


def test_only_contact_made_stops_the_safe_contact_clock(app: IntakeApplication, clock: ControlledClock) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    attempt = change(commands.RecordSafeContact, case_id=case_id, idempotency_key="c1", outcome="ATTEMPTED", at=clock.now().isoformat())
    unsafe = change(commands.RecordSafeContact, case_id=case_id, idempotency_key="c2", outcome="UNSAFE_TO_CONTACT", at=clock.now().isoformat())
    app.record_safe_contact(attempt, CHO)
    app.record_safe_contact(unsafe, CHO)
    clock.advance(timedelta(days=2))  # past the end of Tuesday
    assert app.get_case_overdue(case_id) == ["SAFE_CONTACT"]
    made = change(commands.RecordSafeContact, case_id=case_id, idempotency_key="c3", outcome="MADE", at=clock.now().isoformat())
    case, applied = app.record_safe_contact(made, CHO)
    assert applied and case.safe_contact_made_at == clock.now()
    assert app.get_case_overdue(case_id) == []
    _, again = app.record_safe_contact(made, CHO)
    assert not again  # the same key twice changes nothing


def test_consent_given_then_withdrawn_is_kept_per_agency(app: IntakeApplication, clock: ControlledClock) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    now = clock.now().isoformat()
    app.record_consent(change(commands.RecordConsent, case_id=case_id, idempotency_key="a", decision="GIVEN", agencies=["idva", "police"], at=now), CHO)
    case, _ = app.record_consent(change(commands.RecordConsent, case_id=case_id, idempotency_key="b", decision="WITHDRAWN", agencies=["idva"], at=now), CHO)
    assert {a: s["decision"] for a, s in case.consent.items()} == {"idva": "WITHDRAWN", "police": "GIVEN"}
    assert case.consent["idva"]["by"]["role"] == "CHO"  # who recorded it


def test_a_closed_case_takes_no_journey_steps_until_reopened(app: IntakeApplication, clock: ControlledClock) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    app.close_case(change(commands.ChangeStatus, case_id=case_id, reason="moved out of area"), CHO)
    with pytest.raises(PreconditionFailed, match="reopen"):
        app.record_consent(change(commands.RecordConsent, case_id=case_id, idempotency_key="a", decision="GIVEN", agencies=["idva"], at=clock.now().isoformat()), CHO)
    # A new disclosure about the victim opens a new case while the old one is closed.
    fresh = app.submit_disclosure(disclosure("k-2"), CHO)
    assert fresh.created and fresh.case.case_id != case_id
    case, applied = app.reopen_case(change(commands.ChangeStatus, case_id=case_id, reason="returned"), CHO)
    assert applied and case.status == "OPEN"


def test_notes_stay_inside_intake(app: IntakeApplication) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    case, _ = app.record_note(change(commands.RecordNote, case_id=case_id, idempotency_key="n1", text="Spoke to neighbour."), CHO)
    assert len(case.notes) == 1
    note_event = app.repository.get(case.id)  # reload: the note is part of the record
    assert app.sealer.open(note_event.notes[0]["text"]) == "Spoke to neighbour."
    from intake.domain.case import Case

    assert to_contract(Case.NoteRecorded(originator_id=case.id, originator_version=9, timestamp=MONDAY_0900,
                                         idempotency_key="n", text="x", meta={})) is None


def test_list_cases_filters_by_owner_status_and_overdue(app: IntakeApplication, clock: ControlledClock) -> None:
    a = app.submit_disclosure(disclosure("k-1", tenant="T-1", postcode="NP4 6YB"), CHO).case.case_id
    b = app.submit_disclosure(disclosure("k-2", tenant="T-2", postcode="NP44 1AB"), CHO).case.case_id
    app.close_case(change(commands.ChangeStatus, case_id=b, reason="no further action"), CHO)
    assert {c.case_id for c in app.list_cases(owner_cho="cho-torfaen-central")} == {a}
    assert {c.case_id for c in app.list_cases(status="CLOSED")} == {b}
    clock.advance(timedelta(days=3))
    assert {c.case_id for c in app.list_cases(overdue_only=True)} == {a}  # closed cases are not chased


def test_moving_to_another_patch_reassigns_the_case_and_keeps_the_history(app: IntakeApplication) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    moved = {"tenant_ref": "T-1", "name": "Synthetic Person",
             "address": {"line1": "9 New Road", "postcode": "NP13 2XY"}}
    correction = change(commands.CorrectDetails, case_id=case_id, idempotency_key="fix-1", victim=moved,
                        reason="victim rehoused")
    case, applied = app.correct_details(correction, CHO)
    assert applied and case.owner == {"cho": "cho-blaenau-gwent-east", "area": "Blaenau Gwent"}
    assert app.sealer.open(case.victim["address"]["postcode"]) == "NP13 2XY" and case.corrections == 1
    from uuid import UUID

    history = [type(e).__name__ for e in app.events.get(UUID(case_id))]
    assert history == ["DisclosureReceived", "DetailsCorrected", "OwnerReassigned"]  # nothing rewritten
    reassigned = to_contract(list(app.events.get(UUID(case_id)))[-1])
    assert reassigned is not None
    assert (reassigned.payload.owner_cho, reassigned.payload.previous_owner_cho) == (
        "cho-blaenau-gwent-east", "cho-torfaen-central",
    )


def test_a_correction_on_the_same_patch_does_not_reassign(app: IntakeApplication) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    fixed = {"tenant_ref": "T-1", "name": "Synthetic Persson", "address": {"line1": "1 Test St", "postcode": "NP4 6YB"}}
    case, _ = app.correct_details(change(commands.CorrectDetails, case_id=case_id, idempotency_key="f",
                                         victim=fixed, reason="spelling"), CHO)
    assert case.owner["cho"] == "cho-torfaen-central"
    from uuid import UUID

    assert [type(e).__name__ for e in app.events.get(UUID(case_id))][-1] == "DetailsCorrected"


def test_immediate_safety_reported_elsewhere_legal_advice_and_flag(app: IntakeApplication) -> None:
    case_id = app.submit_disclosure(disclosure(), CHO).case.case_id
    app.record_immediate_safety(change(commands.RecordImmediateSafety, case_id=case_id, idempotency_key="s",
                                       safe_to_return_home=False), CHO)
    app.record_reported_elsewhere(change(commands.RecordReportedElsewhere, case_id=case_id, idempotency_key="r",
                                         police_log_number="GP-1", consent_to_speak_to_them=True), CHO)
    app.request_legal_advice(change(commands.ReasonedCommand, case_id=case_id, idempotency_key="l",
                                    reason="perpetrator returning"), CHO)
    case, _ = app.flag_possible_perpetrator(change(commands.ReasonedCommand, case_id=case_id, idempotency_key="p",
                                                   reason="accounts differ"), CHO)
    assert case.details["safe_to_return_home"] is False
    assert case.details["police_log_number"] == "GP-1" and case.details["consent_to_speak_to_them"]
    assert case.legal_advice_requested and case.possible_perpetrator_as_victim
    from uuid import UUID

    types = [to_contract(e).payload.DESCRIPTOR.name for e in list(app.events.get(UUID(case_id)))[1:]]
    assert types == ["ImmediateSafetyRecorded", "ReportedElsewhereRecorded", "LegalAdviceRequested",
                     "PossiblePerpetratorAsVictimFlagged"]


def test_the_case_list_filters_by_the_grade_risk_reports(app: IntakeApplication) -> None:
    from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
    from caseplatform.inbox import Inbox
    from casework.risk.v1 import events_pb2 as risk_events
    from casework.risk.v1 import risk_pb2

    high = app.submit_disclosure(disclosure("k-1", tenant="T-1"), CHO).case.case_id
    app.submit_disclosure(disclosure("k-2", tenant="T-2"), CHO)

    def assessed(n: int, grade: int) -> Any:
        outgoing = OutgoingEvent(high, risk_events.RiskAssessed(case_id=high, assessment_id=f"a{n}", grade=grade), MONDAY_0900)
        envelope = build_envelope(outgoing, aggregate_id=f"r{n}", aggregate_version=n, recorded_at=MONDAY_0900,
                                  actor=CHO, source=SourcePosition("risk", n, 0, n - 1))
        return parse_envelope(envelope.SerializeToString())

    inbox = Inbox(app, app.policy)
    inbox.apply("risk", 0, [assessed(1, risk_pb2.MEDIUM), assessed(2, risk_pb2.HIGH)])
    inbox.apply("risk", 0, [assessed(2, risk_pb2.HIGH)])  # redelivered: nothing new
    assert [c.case_id for c in app.list_cases(risk_grade="HIGH")] == [high]
    assert app.list_cases(risk_grade="MEDIUM") == []
    assert app.get_case_overdue(high) == []
    from uuid import UUID

    noted = [type(e).__name__ for e in app.events.get(UUID(high))].count("RiskGradeNoted")
    assert noted == 2


def test_the_landlords_housing_actions_from_marac_are_on_the_case(app: IntakeApplication) -> None:
    from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
    from caseplatform.inbox import Inbox
    from casework.common.v1 import envelope_pb2
    from casework.marac.v1 import events_pb2 as marac_events
    from casework.marac.v1 import marac_pb2

    case_id = app.submit_disclosure(disclosure("k-1", tenant="T-1"), CHO).case.case_id

    def marac(n: int, payload: Any) -> Any:
        outgoing = OutgoingEvent(case_id, payload, MONDAY_0900)
        envelope = build_envelope(outgoing, aggregate_id=f"m{n}", aggregate_version=1, recorded_at=MONDAY_0900,
                                  actor=CHO, source=SourcePosition("marac", n, 0, n - 1))
        return parse_envelope(envelope.SerializeToString())

    def agreed(action_id: str, kind: int, landlord: bool = True) -> marac_events.ActionAgreed:
        return marac_events.ActionAgreed(
            action_id=action_id, case_id=case_id, landlord_owned=landlord, kind=kind,
            owning_agency="landlord" if landlord else "gwent-police",
            deadline=envelope_pb2.Deadline(kind="MARAC_ACTION", due_date="2027-03-18"),
        )

    inbox = Inbox(app, app.policy)
    inbox.apply("marac", 0, [
        marac(1, agreed("a-1", marac_pb2.CONFIRM_TENANCY_STATUS)),
        marac(2, agreed("a-2", marac_pb2.CHECK_ASB_HISTORY, landlord=False)),  # the police's own action
        marac(3, agreed("a-3", marac_pb2.TARGET_HARDENING)),  # repairs' work, not intake's
        marac(4, marac_events.ActionCompleted(action_id="a-1", case_id=case_id)),
    ])
    inbox.apply("marac", 0, [marac(1, agreed("a-1", marac_pb2.CONFIRM_TENANCY_STATUS))])  # redelivered
    from uuid import UUID

    case = app.repository.get(UUID(case_id))
    assert case.landlord_actions == {
        "a-1": {"kind": "CONFIRM_TENANCY_STATUS", "due_date": "2027-03-18", "status": "COMPLETED"}
    }


def test_the_case_list_rows_say_what_replaying_each_case_says(app: IntakeApplication, clock: ControlledClock) -> None:
    # ADR 0029: ListCases reads rows written with each case's events. Whatever happened to the
    # cases — closed, contact made, moved to another patch — the rows agree with the cases.
    from uuid import UUID

    ids = [app.submit_disclosure(disclosure(f"k-{i}", tenant=f"T-{i}"), CHO).case.case_id for i in range(4)]
    app.close_case(change(commands.ChangeStatus, case_id=ids[0], reason="no further action"), CHO)
    app.record_safe_contact(change(commands.RecordSafeContact, case_id=ids[1], idempotency_key="c-1", outcome="MADE",
                                   at=MONDAY_0900.isoformat()), CHO)
    moved = {"tenant_ref": "T-2", "name": "Synthetic Person", "address": {"line1": "9 New Road", "postcode": "NP13 2XY"}}
    app.correct_details(change(commands.CorrectDetails, case_id=ids[2], idempotency_key="fix-1", victim=moved,
                               reason="victim rehoused"), CHO)
    clock.advance(timedelta(days=3))
    now = clock.now()

    def summary(c: Any) -> tuple:
        owner = c.owner_cho if hasattr(c, "owner_cho") else c.owner.get("cho", "")
        return (c.case_id, owner, c.status, c.risk_grade, c.received_at, tuple(c.overdue(now)))

    replayed = sorted(summary(app.get_case(UUID(i))) for i in ids)
    assert sorted(summary(c) for c in app.list_cases()) == replayed
    assert {c.case_id for c in app.list_cases(overdue_only=True)} == {ids[2], ids[3]}
    assert [c.case_id for c in app.list_cases(owner_cho="cho-blaenau-gwent-east")] == [ids[2]]


def test_cases_recorded_before_the_case_list_get_their_rows_at_start(tmp_path: Path, clock: ControlledClock) -> None:
    from caseplatform.store import Sql

    first = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    ids = {first.submit_disclosure(disclosure(f"k-{i}", tenant=f"T-{i}"), CHO).case.case_id for i in range(3)}
    sql = Sql(first)
    sql.execute(f"DELETE FROM {sql.table('case_list_v1')}")  # as a store written before ADR 0029
    assert first.list_cases() == []
    restarted = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    assert {c.case_id for c in restarted.list_cases()} == ids
