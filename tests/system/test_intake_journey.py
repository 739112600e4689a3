"""The case journey end to end over gRPC: contact, consent and a move reach the timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework.intake.v1 import intake_pb2

from .client import STAFF, Client, disclosure, eventually, timestamp

pytestmark = pytest.mark.system


def test_journey_steps_are_published_and_on_the_timeline(client: Client) -> None:
    submitted = client.submit(disclosure(children=0))
    assert submitted.owner_cho == "cho-torfaen-central"  # NP4 6YB
    now = timestamp(datetime(2027, 3, 26, 17, 45, tzinfo=UTC))  # the stack's clock is Good Friday 17:40+
    client.intake.RecordSafeContact(intake_pb2.RecordSafeContactRequest(
        idempotency_key="c-1", case_id=submitted.case_id, outcome=intake_pb2.MADE, at=now), metadata=STAFF)
    client.intake.RecordConsent(intake_pb2.RecordConsentRequest(
        idempotency_key="k-1", case_id=submitted.case_id, decision=intake_pb2.WITHDRAWN,
        agencies=["idva"], at=now), metadata=STAFF)
    moved = intake_pb2.Victim(tenant_ref="T-X", name="Synthetic Victim",
                              address=intake_pb2.Address(line1="3 Hill St", postcode="NP23 4AB"))
    client.intake.CorrectDetails(intake_pb2.CorrectDetailsRequest(
        idempotency_key="m-1", case_id=submitted.case_id, victim=moved, reason="rehoused"), metadata=STAFF)

    def journey_on_timeline() -> list[str]:
        types = [e.event_type for e in client.timeline(submitted.case_id).entries]
        for expected in ("intake.v1.SafeContactRecorded", "intake.v1.ConsentRecorded",
                         "intake.v1.DetailsCorrected", "intake.v1.OwnerReassigned"):
            assert expected in types
        return types

    eventually(journey_on_timeline)
    case = client.intake.GetCase(intake_pb2.GetCaseRequest(case_id=submitted.case_id), metadata=STAFF)
    assert case.owner_cho == "cho-blaenau-gwent-west" and case.safe_contact_made
    assert [(c.agency, c.decision) for c in case.consent] == [("idva", intake_pb2.WITHDRAWN)]
