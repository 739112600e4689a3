"""The DACC feed over intake's store: a batch is idempotent by incident reference, matches open
or link a POLICE_DACC disclosure, unmatched incidents are kept, and the briefing is assembled
from events (risk and repairs events through the inbox, intake's own records)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from caseplatform.calendar import LONDON
from caseplatform.clock import ControlledClock
from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
from caseplatform.errors import InvalidArgument, PermissionDenied, PreconditionFailed
from caseplatform.identity import Actor
from caseplatform.inbox import Inbox
from caseplatform.settings import PlatformSettings
from caseplatform.store import Sql
from caseplatform.testing import controlled_clock
from caseplatform.validation import parse_command
from casework.repairs.v1 import events_pb2 as repairs_events
from casework.repairs.v1 import repairs_pb2
from casework.risk.v1 import events_pb2 as risk_events
from casework.risk.v1 import risk_pb2
from intake import commands as intake_commands
from intake.application import IntakeApplication
from intake.dacc import commands
from intake.dacc.briefing import briefing
from intake.dacc.desk import DaccDesk
from intake.dacc.register import Tenancy, TenancyRegister
from intake.translation import to_contract

POLICE = Actor("gwent-police", "DACC officer", "p-3")
OTHER_FORCE = Actor("dyfed-powys-police", "DACC officer", "p-9")
ADVISOR = Actor("landlord", "ASB_ADVISOR", "asb-1")
CHO = Actor("landlord", "CHO", "cho-7")
MONDAY_0900 = datetime(2027, 4, 5, 9, 0, tzinfo=LONDON)
DAY = "2027-04-05"
REGISTER = TenancyRegister([
    Tenancy("T-1", "12 Example Street", "", "Pontypool", "NP4 6YB", joint_tenancy=False),
    Tenancy("T-2", "Flat 3 Sample Court", "", "Cwmbran", "NP44 1AA", joint_tenancy=True),
])


@pytest.fixture
def clock() -> Iterator[ControlledClock]:
    with controlled_clock(MONDAY_0900) as c:
        yield c


@pytest.fixture
def desk(tmp_path: Path, clock: ControlledClock) -> DaccDesk:
    return DaccDesk(IntakeApplication(PlatformSettings(casework_data_dir=tmp_path)), REGISTER)


def incident(ref: str, *, tenant_ref: str = "", line1: str = "", postcode: str = "", grade: str = "HIGH") -> dict[str, Any]:
    return {
        "incident_ref": ref, "date": DAY, "risk_grade": grade, "consent_to_share": True,
        "addresses": [{"line1": line1, "postcode": postcode}] if line1 else [],
        "parties": [{"role": "VICTIM", "name": "Synthetic Victim", "tenant_ref": tenant_ref, "phone": "01234 567890"},
                    {"role": "PERPETRATOR", "name": "Synthetic Perpetrator"}],
    }


def batch(*incidents: dict[str, Any]) -> commands.SubmitIncidents:
    return parse_command(commands.SubmitIncidents, {"incidents": list(incidents)})


def stored_events(desk: DaccDesk) -> int:
    return sum(Sql(desk.app).event_counts().values())


def test_matches_open_a_police_dacc_case_and_a_batch_sent_twice_creates_nothing_new(desk: DaccDesk) -> None:
    sent = batch(incident("GP-1", tenant_ref="t-1"), incident("GP-2", line1="flat 3, sample ct", postcode="np441aa"),
                 incident("GP-3", line1="99 Nowhere Road", postcode="CF10 1AA"))
    first = desk.submit_incidents(sent, POLICE)
    assert [r.outcome for r in first] == ["MATCHED", "MATCHED", "UNMATCHED"]
    case = desk.app.get_case(UUID(first[1].incident.case_id))
    assert (case.channel, case.victim["tenant_ref"], desk.app.sealer.open(case.victim["address"]["postcode"]),
            case.owner["cho"]) == (
        "POLICE_DACC", "T-2", "NP44 1AA", "cho-cwmbran")
    assert case.details["police_log_number"] == "GP-2"

    before = stored_events(desk)
    again = desk.submit_incidents(sent, POLICE)
    assert [r.outcome for r in again] == ["DUPLICATE"] * 3
    assert [r.incident.case_id for r in again] == [r.incident.case_id for r in first]
    assert stored_events(desk) == before


def test_unmatched_incidents_are_kept_and_listed_each_force_seeing_its_own(desk: DaccDesk) -> None:
    desk.submit_incidents(batch(incident("GP-9", line1="99 Nowhere Road", postcode="CF10 1AA")), POLICE)
    desk.submit_incidents(batch(incident("DP-1")), OTHER_FORCE)
    listed = desk.unmatched(DAY, ADVISOR)
    assert sorted(i.incident_ref for i in listed) == ["DP-1", "GP-9"]
    assert desk.opened(listed[0])[1][0]["phone"] == "01234 567890"  # kept whole, sealed, in intake's store
    assert [i.incident_ref for i in desk.unmatched(DAY, POLICE)] == ["GP-9"]
    assert desk.unmatched("2027-04-06", ADVISOR) == []


def test_a_victim_with_an_open_case_has_the_incident_linked_to_it(desk: DaccDesk) -> None:
    existing = desk.app.submit_disclosure(parse_command(intake_commands.SubmitDisclosure, {
        "idempotency_key": "k-1", "received_at": (MONDAY_0900 - timedelta(days=3)).isoformat(), "channel": "VICTIM_DIRECT",
        "victim": {"tenant_ref": "T-1", "name": "Synthetic Victim", "address": {"line1": "12 Example Street", "postcode": "NP4 6YB"}},
    }), CHO).case
    [result] = desk.submit_incidents(batch(incident("GP-4", tenant_ref="T-1")), POLICE)
    assert (result.incident.case_id, result.incident.linked_to_open_case) == (existing.case_id, True)
    assert desk.app.get_case(existing.id).disclosures == 2


def test_only_the_police_send_incidents_and_a_bad_batch_stores_nothing(desk: DaccDesk) -> None:
    with pytest.raises(PermissionDenied):
        desk.submit_incidents(batch(incident("GP-5", tenant_ref="T-1")), ADVISOR)
    with pytest.raises(InvalidArgument) as refused:
        parse_command(commands.SubmitIncidents, {"incidents": [{**incident("GP-6"), "parties": [{"role": "PERPETRATOR"}]}]})
    assert refused.value.violations[0].field == "incidents[0].parties"
    with pytest.raises(InvalidArgument):
        desk.submit_incidents(batch(incident("GP-7"), incident("gp-7")), POLICE)
    assert stored_events(desk) == 0


def published_matched(desk: DaccDesk, incident_id: str) -> Any:
    events = [to_contract(e) for e in desk.app.events.get(UUID(incident_id))]
    return [e for e in events if e is not None]


def test_events_carry_references_grades_and_flags_not_personal_data(desk: DaccDesk) -> None:
    [result] = desk.submit_incidents(batch(incident("GP-8", tenant_ref="T-2")), POLICE)
    [matched] = published_matched(desk, result.incident.incident_id)
    assert matched.case_id == result.incident.case_id
    text = matched.payload.SerializeToString()
    for personal in (b"Synthetic", b"01234", b"Sample Court", b"NP44 1AA"):
        assert personal not in text


def outcome(incident_id: str, key: str = "o-1", **fields: Any) -> commands.RecordDaccOutcome:
    return parse_command(commands.RecordDaccOutcome, {"idempotency_key": key, "incident_id": incident_id, **fields})


def test_an_outcome_records_interventions_once_and_welfare_checks_become_tasks(desk: DaccDesk) -> None:
    [matched, unmatched] = desk.submit_incidents(batch(incident("GP-10", tenant_ref="T-2"), incident("GP-11")), POLICE)
    with pytest.raises(InvalidArgument) as refused:  # target hardening needs the measures repairs is to fit
        desk.record_outcome(outcome(matched.incident.incident_id, interventions=["TARGET_HARDENING"]), ADVISOR)
    assert refused.value.violations[0].field == "target_hardening_measures"
    with pytest.raises(PreconditionFailed):
        desk.record_outcome(outcome(unmatched.incident.incident_id), ADVISOR)
    with pytest.raises(PermissionDenied):
        desk.record_outcome(outcome(matched.incident.incident_id), POLICE)

    request = outcome(matched.incident.incident_id, interventions=["WELFARE_CHECK", "TARGET_HARDENING"],
                      target_hardening_measures=["LOCK_CHANGE", "FIREPROOF_LETTERBOX"],
                      shared=[{"agency": "childrens-services", "information": "Known to the duty team"}])
    first = desk.record_outcome(request, ADVISOR)
    again = desk.record_outcome(request, ADVISOR)
    assert (first.created, again.created, again.outcome_id) == (True, False, first.outcome_id)

    published = published_matched(desk, matched.incident.incident_id)[-1].payload
    assert (list(published.agencies_shared), published.joint_tenancy, len(published.target_hardening_measures)) == (
        ["childrens-services"], True, 2)
    assert b"duty team" not in published.SerializeToString()

    [tenant], _ = briefing(desk, DAY)
    assert [(w["task_id"], w["visited_at"]) for w in tenant.welfare_visits] == [(first.welfare_visit_task_id, None)]
    visit = parse_command(commands.RecordWelfareVisit, {"tenant_ref": "T-2", "task_id": first.welfare_visit_task_id,
                                                        "visited_at": MONDAY_0900.isoformat()})
    assert desk.record_welfare_visit(visit, ADVISOR)[2] is True
    [tenant], _ = briefing(desk, DAY)
    assert tenant.welfare_visits[0]["visited_at"] == MONDAY_0900
    assert tenant.dacc_outcomes[0]["interventions"] == ["WELFARE_CHECK", "TARGET_HARDENING"]


def upstream(service: str, n: int, payload: Any) -> Any:
    outgoing = OutgoingEvent(payload.case_id, payload, MONDAY_0900 - timedelta(days=10 - n))
    envelope = build_envelope(outgoing, aggregate_id=f"{service}-{n}", aggregate_version=n, recorded_at=MONDAY_0900,
                              actor=CHO, source=SourcePosition(service, n, 0, n - 1))
    return parse_envelope(envelope.SerializeToString())


def test_the_briefing_is_assembled_from_events(desk: DaccDesk) -> None:
    app = desk.app
    earlier = app.submit_disclosure(parse_command(intake_commands.SubmitDisclosure, {
        "idempotency_key": "k-early", "received_at": (MONDAY_0900 - timedelta(days=20)).isoformat(),
        "channel": "VICTIM_DIRECT",
        "victim": {"tenant_ref": "T-1", "name": "Synthetic Victim", "address": {"line1": "12 Example Street", "postcode": "NP4 6YB"}},
    }), CHO).case.case_id
    app.close_case(intake_commands.ChangeStatus(case_id=earlier, reason="support in place"), CHO)
    app.submit_disclosure(parse_command(intake_commands.SubmitDisclosure, {  # another tenant: not on the briefing
        "idempotency_key": "k-other", "received_at": (MONDAY_0900 - timedelta(days=2)).isoformat(),
        "channel": "THIRD_PARTY",
        "victim": {"tenant_ref": "T-2", "name": "Other Person", "address": {"line1": "Flat 3 Sample Court", "postcode": "NP44 1AA"}},
    }), CHO)
    inbox = Inbox(app, app.policy)
    inbox.apply("risk", 0, [upstream("risk", 1, risk_events.RiskAssessed(
        case_id=earlier, assessment_id="a-1", grade=risk_pb2.MEDIUM, checklist=risk_pb2.SAFELIVES_DASH_RIC))])
    raised = repairs_events.WorkOrderRaised(case_id=earlier, work_order_id="w-1", measures=[repairs_pb2.EXTRA_LOCKS],
                                            priority=repairs_pb2.SECURITY, source=repairs_pb2.INITIAL_ASSESSMENT)
    inbox.apply("repairs", 0, [upstream("repairs", 1, raised)])
    inbox.apply("repairs", 0, [upstream("repairs", 1, raised),  # redelivered: recorded once
                               upstream("repairs", 2, repairs_events.WorkCompleted(case_id=earlier, work_order_id="w-1"))])
    desk.record_asb_report(parse_command(commands.RecordAsbReport, {
        "idempotency_key": "asb-1", "tenant_ref": "T-1", "role": "COMPLAINANT", "category": "harassment",
        "reported_on": "2027-01-10"}), ADVISOR)
    desk.record_tenancy_issue(parse_command(commands.RecordTenancyIssue, {
        "idempotency_key": "ti-1", "tenant_ref": "T-1", "kind": "RENT_ARREARS", "noted_on": "2027-02-01"}), CHO)

    [today] = desk.submit_incidents(batch(incident("GP-20", line1="12 example st", postcode="NP4 6YB", grade="HIGH")), POLICE)
    [tenant], unmatched = briefing(desk, DAY)
    assert (tenant.tenant_ref, unmatched, [i.incident_ref for i in tenant.incidents]) == ("T-1", 0, ["GP-20"])
    assert [(d["case_id"], d["channel"], d["case_status"]) for d in tenant.disclosures] == [
        (earlier, "VICTIM_DIRECT", "CLOSED"), (today.incident.case_id, "POLICE_DACC", "OPEN")]
    assert [(r["grade"], r["source"]) for r in tenant.risk_grades] == [("MEDIUM", "SAFELIVES_DASH_RIC"), ("HIGH", "POLICE_DACC")]
    assert [(w["work_order_id"], w["measures"], w["status"]) for w in tenant.work_orders] == [("w-1", ["EXTRA_LOCKS"], "COMPLETED")]
    assert [a["category"] for a in tenant.asb_reports] == ["harassment"]
    assert [t["kind"] for t in tenant.tenancy_issues] == ["RENT_ARREARS"]


def test_erasing_a_cases_victim_erases_them_as_the_police_named_them(desk: DaccDesk) -> None:
    """ADR 0022: a DACC incident's parties are sealed per role; erasing the case's victim (or
    perpetrator) erases that role's parties of the incidents matched to the case, nothing else."""
    sent = incident("GP-7", tenant_ref="T-1")
    assert sent["parties"][1]["role"] == "PERPETRATOR"
    result = desk.submit_incidents(batch(sent), POLICE)[0]
    stored = desk.app.repository.get(result.incident.id)
    assert "Synthetic" not in repr(stored.parties)  # sealed, even inside the store's own encryption
    manager = Actor("landlord", "Housing Manager", "hm-1")
    erase = parse_command(intake_commands.EraseSubject, {
        "idempotency_key": "e-1", "case_id": result.incident.case_id, "subject": "VICTIM", "reason": "Art. 17"})
    desk.app.erase_subject(erase, manager)

    _, parties = desk.opened(desk.app.repository.get(result.incident.id))
    victim, perpetrator = parties[0], parties[1]
    assert (victim["name"], victim["phone"]) == ("[erased]", "[erased]")
    assert perpetrator["name"] == "Synthetic Perpetrator"
    assert victim["tenant_ref"] == "T-1" and victim["role"] == "VICTIM"  # how it matched stays

    erase_perpetrator = parse_command(intake_commands.EraseSubject, {
        "idempotency_key": "e-2", "case_id": result.incident.case_id, "subject": "PERPETRATOR", "reason": "Art. 17"})
    desk.app.erase_subject(erase_perpetrator, manager)
    _, parties = desk.opened(desk.app.repository.get(result.incident.id))
    assert parties[1]["name"] == "[erased]"
