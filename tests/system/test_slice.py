"""The disclosure slice end to end: gRPC in, Kafka across all six services, timeline out."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from caseplatform.calendar import LONDON
from caseplatform.devstack.stack import DevStack
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import referral_pb2

from .client import STAFF, Client, disclosure, eventually

pytestmark = pytest.mark.system

GOOD_FRIDAY_1730 = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)
# reporting too: its SlaMet says the case was recorded on time (CASE_RECORDED, ADR 0016).
EVERY_SERVICE = {"intake", "risk", "referral", "marac", "repairs", "reporting"}


def test_a_disclosure_with_children_reaches_every_service_and_the_timeline(client: Client) -> None:
    submitted = client.submit(disclosure(children=2, received_at=GOOD_FRIDAY_1730))
    due = {d.kind: d.due_date for d in submitted.deadlines}
    # Good Friday evening: Easter Monday is a bank holiday, so "1 working day" is Tuesday.
    assert due == {"SAFE_CONTACT": "2027-03-30", "CASE_RECORDED": "2027-03-30", "CHILDRENS_REFERRAL": "2027-03-26"}

    def complete_timeline() -> list:
        entries = list(client.timeline(submitted.case_id).entries)
        assert {e.service for e in entries} == EVERY_SERVICE
        return entries

    entries = eventually(complete_timeline)
    assert entries[0].event_type == "intake.v1.DisclosureReceived"
    assert {e.event_type for e in entries} == {
        "intake.v1.DisclosureReceived", "risk.v1.AssessmentRequired", "referral.v1.ReferralRequired",
        # no consent to share with the duty team is recorded yet: the consent gate holds the MARF
        "referral.v1.ReferralHeld",
        "marac.v1.CaseFileOpened", "repairs.v1.CaseFileOpened", "reporting.v1.SlaMet",
    }
    times = [(e.occurred_at.ToDatetime(), e.recorded_at.ToDatetime()) for e in entries]
    assert times == sorted(times)
    first = entries[0]
    assert first.occurred_at.ToDatetime(tzinfo=UTC) == GOOD_FRIDAY_1730
    assert first.recorded_at.ToDatetime(tzinfo=UTC) > GOOD_FRIDAY_1730  # recorded after receipt
    assert (first.actor.agency, first.actor.role, first.actor.user) == ("landlord", "CSO", "cso-7")
    assert all(e.actor.role == "system" for e in entries[1:])  # the services reacting by policy
    assert all(e.summary for e in entries)

    referral = client.referrals(submitted.case_id).referrals
    assert [(r.type, r.status, r.deadline.due_date) for r in referral] == [
        (referral_pb2.CHILDRENS_MARF, "REQUIRED", "2027-03-26")
    ]
    risk = client.risk_history(submitted.case_id)
    assert risk.assessment_due and risk.deadline.due_date == "2027-03-30"
    marac_file, repairs_file = client.case_files(submitted.case_id)
    assert marac_file.postcode_district == repairs_file.postcode_district == "NP4"
    assert marac_file.children_count == 2


def test_no_children_no_childrens_referral(client: Client) -> None:
    submitted = client.submit(disclosure(children=0))
    eventually(lambda: client.risk_history(submitted.case_id))
    eventually(lambda: client.case_files(submitted.case_id))
    assert list(client.referrals(submitted.case_id).referrals) == []


def test_christmas_eve_is_due_after_the_boxing_day_holiday(client: Client) -> None:
    submitted = client.submit(disclosure(received_at=datetime(2026, 12, 24, 10, 0, tzinfo=LONDON)))
    assert {d.kind: d.due_date for d in submitted.deadlines}["SAFE_CONTACT"] == "2026-12-29"


def test_the_same_idempotency_key_twice_creates_one_case(client: Client) -> None:
    request = disclosure(children=1, key="partner-system-ref-0001")
    first, second = client.submit(request), client.submit(request)
    assert first.case_id == second.case_id and first.created and not second.created
    entries = eventually(lambda: _with_all_services(client, first.case_id))
    assert [e.event_type for e in entries].count("intake.v1.DisclosureReceived") == 1


def _with_all_services(client: Client, case_id: str) -> list:
    entries = list(client.timeline(case_id).entries)
    assert {e.service for e in entries} == EVERY_SERVICE
    return entries


def _field_violations(error: grpc.RpcError) -> dict[str, str]:
    raw = dict(error.trailing_metadata())["grpc-status-details-bin"]
    bad = error_details_pb2.BadRequest()
    status_pb2.Status.FromString(raw).details[0].Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.ClearField("idempotency_key"), "idempotency_key"),
        (lambda r: setattr(r, "channel", 77), "channel"),
        (lambda r: r.received_at.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC)), "received_at"),
        (lambda r: r.victim.address.ClearField("postcode"), "victim.address.postcode"),
    ],
)
def test_malformed_requests_are_refused_by_field_and_store_nothing(client: Client, mutate, field: str) -> None:
    before = client.event_counts("intake")
    request = disclosure()
    mutate(request)
    with pytest.raises(grpc.RpcError) as raised:
        client.submit(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in _field_violations(raised.value)
    assert client.event_counts("intake") == before


def test_a_lookup_without_a_case_id_names_the_field(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.intake.GetCase(intake_pb2.GetCaseRequest(), metadata=STAFF)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "case_id" in _field_violations(raised.value)


def test_no_identity_no_service(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.intake.SubmitDisclosure(disclosure(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_one_trace_follows_a_disclosure_through_every_service(stack: DevStack, client: Client) -> None:
    submitted = client.submit(disclosure(children=1))
    eventually(lambda: _with_all_services(client, submitted.case_id))

    def spans(service: str) -> list[dict]:
        path = stack.data_dir / service / "traces.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def trace_of_submit() -> str:
        submits = [s for s in spans("intake") if s["name"].endswith("SubmitDisclosure")]
        return submits[-1]["context"]["trace_id"]

    trace_id = trace_of_submit()

    def all_joined() -> None:
        for service in ("intake", "risk", "referral", "reporting"):
            names = {s["name"] for s in spans(service) if s["context"]["trace_id"] == trace_id}
            assert names, service
        in_intake = {s["name"] for s in spans("intake") if s["context"]["trace_id"] == trace_id}
        assert {"store.append", "publish intake.v1.DisclosureReceived"} <= in_intake
        in_reporting = {s["name"] for s in spans("reporting") if s["context"]["trace_id"] == trace_id}
        assert "process risk.v1.AssessmentRequired" in in_reporting  # two hops: intake → risk → reporting

    eventually(all_joined, timeout=20)


def test_every_service_exports_prometheus_metrics(stack: DevStack, client: Client) -> None:
    client.submit(disclosure())
    for service in stack.services:
        body = urllib.request.urlopen(stack.metrics_url(service), timeout=5).read().decode()
        assert "casework_relay_lag_events" in body
    intake = urllib.request.urlopen(stack.metrics_url("intake"), timeout=5).read().decode()
    assert 'casework_grpc_requests_total{code="OK",method="SubmitDisclosure",service="intake"}' in intake
    risk = urllib.request.urlopen(stack.metrics_url("risk"), timeout=5).read().decode()
    assert 'casework_events_consumed_total{outcome="processed",service="risk",source_service="intake"}' in risk
