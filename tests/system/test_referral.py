"""Referral pathways and the consent gate on the running system: intake's and risk's events reach
referral over Kafka; landlord staff and partner agencies act over gRPC with their own identity."""

from __future__ import annotations

from datetime import datetime, timedelta

import grpc
import pytest

from caseplatform.calendar import LONDON
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import referral_pb2
from casework.risk.v1 import risk_pb2

from .client import STAFF, Client, disclosure, eventually, timestamp

pytestmark = pytest.mark.system

GOOD_FRIDAY_1730 = datetime(2027, 3, 26, 17, 30, tzinfo=LONDON)
# An ordinary Thursday before the shared stack's clock (Good Friday 2027): the next working day
# is Friday 19 March, not the Tuesday after Easter.
THURSDAY = datetime(2027, 3, 18, 10, 0, tzinfo=LONDON)
LA_DUTY = (("x-agency", "local-authority-duty-team"), ("x-role", "duty-officer"), ("x-user", "la-1"), ("x-purpose", "referral triage"))
POLICE = (("x-agency", "gwent-police"), ("x-role", "officer"), ("x-user", "pc-1"), ("x-purpose", "referral triage"))


def assess(client: Client, case_id: str, *, key: str, yes: int, completed_at: datetime) -> None:
    client.risk.RecordDashAssessment(
        risk_pb2.RecordDashAssessmentRequest(
            idempotency_key=key, case_id=case_id, safe_to_talk=True, assessed_by="cho-7",
            source=risk_pb2.LANDLORD, completed_at=timestamp(completed_at),
            answers=[risk_pb2.DashAnswer(question=q, answer=risk_pb2.YES if q <= yes else risk_pb2.NO)
                     for q in range(1, 25)],
        ),
        metadata=STAFF, timeout=10,
    )


def referral_of(
    client: Client, case_id: str, kind: int, status: str | None = None, timeout: float = 60.0
) -> referral_pb2.Referral:
    def find() -> referral_pb2.Referral:
        found = [r for r in client.referrals(case_id).referrals if r.type == kind]
        assert len(found) == 1 and (status is None or found[0].status == status), found
        return found[0]

    return eventually(find, timeout=timeout)


def accept(client: Client, referral_id: str, at: datetime) -> referral_pb2.Referral:
    return client.referral.RecordVictimDecision(
        referral_pb2.RecordVictimDecisionRequest(referral_id=referral_id, accepted=True, at=timestamp(at)),
        metadata=STAFF, timeout=10,
    )


def mark_sent(client: Client, referral_id: str, metadata=STAFF) -> referral_pb2.Referral:
    return client.referral.MarkSent(referral_pb2.MarkSentRequest(referral_id=referral_id), metadata=metadata, timeout=10)


def test_high_risk_without_consent_marac_proceeds_on_a_lawful_basis_support_does_not(client: Client) -> None:
    case_id = client.submit(disclosure(received_at=GOOD_FRIDAY_1730)).case_id
    eventually(lambda: client.risk_history(case_id))
    assess(client, case_id, key="dash-medium", yes=11, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=2))
    support = referral_of(client, case_id, referral_pb2.SPECIALIST_SUPPORT, "OFFERED")
    accept(client, support.referral_id, GOOD_FRIDAY_1730 + timedelta(minutes=3))
    assess(client, case_id, key="dash-high", yes=15, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=5))
    marac = referral_of(client, case_id, referral_pb2.MARAC)
    assert marac.consent == referral_pb2.HELD and marac.deadline.clock_id == f"referral:{marac.referral_id}"

    with pytest.raises(grpc.RpcError) as held:
        mark_sent(client, marac.referral_id)
    assert held.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    overridden = client.referral.OverrideConsent(
        referral_pb2.OverrideConsentRequest(
            referral_id=marac.referral_id, lawful_basis=referral_pb2.CRIME_AND_DISORDER_ACT_S115,
            reason="risk of serious harm", officer_name="Synthetic Officer", officer_role="CSO",
        ),
        metadata=STAFF, timeout=10,
    )
    assert overridden.consent == referral_pb2.OVERRIDDEN
    sent = mark_sent(client, marac.referral_id)
    assert sent.status == "SENT"
    assert (sent.override.lawful_basis, sent.override.officer_name, sent.override.officer_role) == (
        referral_pb2.CRIME_AND_DISORDER_ACT_S115, "Synthetic Officer", "CSO",
    )

    with pytest.raises(grpc.RpcError) as still_held:
        mark_sent(client, support.referral_id)
    assert still_held.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert referral_of(client, case_id, referral_pb2.SPECIALIST_SUPPORT).status == "ACCEPTED"

    def on_timeline() -> list[str]:
        types = [e.event_type for e in client.timeline(case_id).entries]
        assert "referral.v1.ConsentOverridden" in types and "referral.v1.ReferralSent" in types
        return types

    eventually(on_timeline)


def test_medium_risk_accepted_on_a_thursday_is_due_on_friday(client: Client) -> None:
    case_id = client.submit(disclosure(received_at=THURSDAY)).case_id
    eventually(lambda: client.risk_history(case_id))
    assess(client, case_id, key="dash-1", yes=10, completed_at=THURSDAY + timedelta(hours=1))
    support = referral_of(client, case_id, referral_pb2.SPECIALIST_SUPPORT, "OFFERED")
    assert not support.HasField("deadline")
    accepted = accept(client, support.referral_id, THURSDAY + timedelta(hours=2))
    assert accepted.status == "ACCEPTED"
    assert accepted.deadline.due_date == "2027-03-19"
    assert accepted.deadline.kind == "SUPPORT_REFERRAL"
    assert accepted.deadline.clock_id == f"referral:{support.referral_id}"


def test_duplicate_events_do_not_create_duplicate_referrals(client: Client) -> None:
    request = disclosure(children=2, received_at=GOOD_FRIDAY_1730)
    case_id = client.submit(request).case_id
    assert client.submit(request).case_id == case_id  # the same disclosure again
    eventually(lambda: client.risk_history(case_id))
    assess(client, case_id, key="dash-1", yes=14, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=5))
    assess(client, case_id, key="dash-1", yes=14, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=5))
    assess(client, case_id, key="dash-2", yes=16, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=9))

    def settled() -> list[int]:
        types = sorted(r.type for r in client.referrals(case_id).referrals)
        assert types == [referral_pb2.CHILDRENS_MARF, referral_pb2.MARAC]
        assert len(client.risk_history(case_id).assessments) == 2
        return types

    eventually(settled)
    assert sorted(r.type for r in client.referrals(case_id).referrals) == [referral_pb2.CHILDRENS_MARF, referral_pb2.MARAC]


def test_a_partner_cannot_acknowledge_another_agencys_referral(client: Client) -> None:
    case_id = client.submit(disclosure(children=1, received_at=GOOD_FRIDAY_1730)).case_id
    marf = referral_of(client, case_id, referral_pb2.CHILDRENS_MARF)
    with pytest.raises(grpc.RpcError) as not_staff:
        mark_sent(client, marf.referral_id, metadata=POLICE)
    assert not_staff.value.code() == grpc.StatusCode.PERMISSION_DENIED

    client.intake.RecordConsent(
        intake_pb2.RecordConsentRequest(
            idempotency_key="consent-1", case_id=case_id, decision=intake_pb2.GIVEN,
            agencies=["local-authority-duty-team"],
            at=timestamp(GOOD_FRIDAY_1730 + timedelta(minutes=1)),
        ),
        metadata=STAFF, timeout=10,
    )
    eventually(lambda: _consented(client, case_id))
    mark_sent(client, marf.referral_id)

    request = referral_pb2.RecordAcknowledgementRequest(referral_id=marf.referral_id)
    with pytest.raises(grpc.RpcError) as denied:
        client.referral.RecordAcknowledgement(request, metadata=POLICE, timeout=10)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    acknowledged = client.referral.RecordAcknowledgement(request, metadata=LA_DUTY, timeout=10)
    assert acknowledged.status == "ACKNOWLEDGED"
    assert [r.type for r in client.referral.ListReferrals(
        referral_pb2.ListReferralsRequest(case_id=case_id), metadata=POLICE, timeout=10).referrals] == []


def _consented(client: Client, case_id: str) -> None:
    assert referral_of(client, case_id, referral_pb2.CHILDRENS_MARF, timeout=0).consent == referral_pb2.CONSENTED
