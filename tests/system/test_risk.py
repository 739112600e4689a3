"""DASH risk assessment on the running system: intake's disclosure opens the risk record, a
partner records a SafeLives RIC over gRPC, and the case's timeline shows it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from caseplatform.calendar import LONDON
from casework.intake.v1 import intake_pb2
from casework.risk.v1 import risk_pb2

from .client import STAFF, Client, disclosure, eventually, timestamp

pytestmark = pytest.mark.system

# The shared stack's clock starts at Good Friday 2027, 17:40 in London: a disclosure received at
# 17:30 has its DASH assessment due by the end of Tuesday 30 March (Easter Monday is a holiday).
GOOD_FRIDAY_1730 = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)


def ric(yes: int) -> list[risk_pb2.DashAnswer]:
    return [risk_pb2.DashAnswer(question=q, answer=risk_pb2.YES if q <= yes else risk_pb2.NO) for q in range(1, 25)]


def record_dash(
    client: Client, case_id: str, *, key: str, yes: int, completed_at: datetime, timeout: float = 10
) -> risk_pb2.RecordDashAssessmentResponse:
    request = risk_pb2.RecordDashAssessmentRequest(
        idempotency_key=key,
        case_id=case_id,
        answers=ric(yes),
        safe_to_talk=True,
        assessed_by="cho-7",
        source=risk_pb2.LANDLORD,
        completed_at=timestamp(completed_at),
    )
    return client.risk.RecordDashAssessment(request, metadata=STAFF, timeout=timeout)


def open_risk_record(client: Client) -> str:
    submitted = client.submit(disclosure(received_at=GOOD_FRIDAY_1730))
    opened = eventually(lambda: client.risk_history(submitted.case_id))
    assert opened.assessment_due and opened.deadline.due_date == "2027-03-30"
    return submitted.case_id


def test_fourteen_yes_is_high_and_reaches_the_timeline(client: Client) -> None:
    case_id = open_risk_record(client)
    completed = GOOD_FRIDAY_1730 + timedelta(minutes=5)
    reply = record_dash(client, case_id, key="dash-1", yes=14, completed_at=completed)
    assert (reply.grade, list(reply.triggers), reply.yes_count, reply.escalated) == (
        risk_pb2.HIGH, [risk_pb2.VISIBLE_HIGH_RISK], 14, False,
    )
    again = record_dash(client, case_id, key="dash-1", yes=14, completed_at=completed)
    assert (again.assessment_id, again.created) == (reply.assessment_id, False)

    risk = client.risk_history(case_id)
    assert not risk.assessment_due
    assert [a.assessment_id for a in risk.assessments] == [reply.assessment_id]
    assert (risk.current_grade, risk.deadline_outcome.source, risk.deadline_outcome.on_time) == (
        risk_pb2.HIGH, risk_pb2.LANDLORD, True,
    )

    def assessed_on_timeline() -> list:
        entries = [e for e in client.timeline(case_id).entries if e.event_type == "risk.v1.RiskAssessed"]
        assert entries
        return entries

    (entry,) = eventually(assessed_on_timeline)
    assert entry.service == "risk"
    assert (entry.actor.agency, entry.actor.role) == ("landlord", "CSO")  # the caller, not a policy
    assert entry.occurred_at.ToDatetime(tzinfo=UTC) == completed
    assert "HIGH risk" in entry.summary and "visible high risk" in entry.summary


def test_a_rise_in_risk_is_escalated_on_the_timeline(client: Client) -> None:
    case_id = open_risk_record(client)
    first = record_dash(client, case_id, key="dash-1", yes=11, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=5))
    rise = record_dash(client, case_id, key="dash-2", yes=15, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=8))
    assert (first.grade, first.escalated, rise.grade, rise.escalated) == (risk_pb2.MEDIUM, False, risk_pb2.HIGH, True)

    def escalated_on_timeline() -> list:
        types = [e.event_type for e in client.timeline(case_id).entries]
        assert types.count("risk.v1.RiskAssessed") == 2 and "risk.v1.RiskEscalated" in types
        return list(client.timeline(case_id).entries)

    entries = eventually(escalated_on_timeline)
    (escalation,) = [e for e in entries if e.event_type == "risk.v1.RiskEscalated"]
    assert "MEDIUM to HIGH" in escalation.summary


def test_a_dash_recorded_the_moment_the_disclosure_is_accepted_is_recorded_at_the_first_call(client: Client) -> None:
    """Risk hears of the case only through the broker; the call waits for it (ADR 0026) rather
    than answering NOT_FOUND and leaving every landlord system to write a retry loop."""
    open_risk_record(client)  # a stack just started may still be joining its consumer groups
    for _ in range(3):
        case_id = client.submit(disclosure(received_at=GOOD_FRIDAY_1730)).case_id
        reply = record_dash(client, case_id, key="at-once", yes=15, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=2))
        assert (reply.grade, reply.created) == (risk_pb2.HIGH, True)
        assert [a.assessment_id for a in client.risk_history(case_id).assessments] == [reply.assessment_id]


def test_a_cho_reads_their_new_case_at_once_and_another_patch_is_refused_not_told_not_found(client: Client) -> None:
    """The need-to-know check needs the case's owner, which risk learns with the case: it waits
    for it too, then admits the owner CHO and refuses another patch's (ADR 0021, 0026)."""
    cho = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-torfaen-central"))  # NP4 6YB's CHO
    other = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-cwmbran"))
    open_risk_record(client)  # a stack just started may still be joining its consumer groups
    case_id = client.intake.SubmitDisclosure(disclosure(received_at=GOOD_FRIDAY_1730), metadata=cho, timeout=10).case_id
    history = client.risk.GetRiskHistory(risk_pb2.GetRiskHistoryRequest(case_id=case_id), metadata=cho, timeout=10)
    assert history.case_id == case_id and history.assessment_due
    with pytest.raises(grpc.RpcError) as raised:
        client.risk.GetRiskHistory(risk_pb2.GetRiskHistoryRequest(case_id=case_id), metadata=other, timeout=10)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_an_assessment_of_an_unknown_case_is_not_found_once_the_wait_is_over(client: Client) -> None:
    unknown = "0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        record_dash(client, unknown, key="k", yes=3, completed_at=GOOD_FRIDAY_1730)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "risk record for case" in (raised.value.details() or "")
    assert time.monotonic() - started >= 1.9  # CASEWORK_CASE_ARRIVAL_WAIT_S, 2 s by default
    # A caller with less time than that is answered within its own deadline, not timed out.
    with pytest.raises(grpc.RpcError) as raised:
        record_dash(client, unknown, key="k", yes=3, completed_at=GOOD_FRIDAY_1730, timeout=0.8)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_case_list_follows_the_grade_risk_reports_and_a_cho_sees_only_their_patch(client: Client) -> None:
    # ListCases reads intake's case-list rows (ADR 0029); the grade reaches them from risk's
    # event, through intake's inbox, in the transaction that records it on the case.
    case_id = open_risk_record(client)
    record_dash(client, case_id, key=f"list-{case_id}", yes=15, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=3))
    cso = intake_pb2.ListCasesRequest(risk_grade="HIGH", status="OPEN")

    def listed_high() -> None:
        listed = client.intake.ListCases(cso, metadata=STAFF, timeout=10).cases
        assert case_id in {c.case_id for c in listed}
        assert all(c.risk_grade == "HIGH" and c.status == "OPEN" for c in listed)

    eventually(listed_high)
    own = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-torfaen-central"))
    mine = client.intake.ListCases(intake_pb2.ListCasesRequest(), metadata=own, timeout=10).cases
    assert case_id in {c.case_id for c in mine} and {c.owner_cho for c in mine} == {"cho-torfaen-central"}
    other = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-cwmbran"))
    theirs = client.intake.ListCases(intake_pb2.ListCasesRequest(), metadata=other, timeout=10).cases
    assert case_id not in {c.case_id for c in theirs}
