"""intake.v1.IntakeService over a real socket: identity, validation errors, not found, idempotency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities
from caseplatform.testing import field_violations as violations
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from intake.application import IntakeApplication
from intake.entrypoints import grpc_api

IDENTITY = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "u-1"))


@pytest.fixture
async def stub(tmp_path: Path) -> AsyncIterator[tuple[intake_pb2_grpc.IntakeServiceStub, IntakeApplication, str]]:
    identities = TestIdentities(tmp_path / "issuer")
    app = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    port = free_port()
    server, health = build_server("intake", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port, identities.verifier)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    channel = identities.aio_channel(f"127.0.0.1:{port}")
    yield intake_pb2_grpc.IntakeServiceStub(channel), app, f"127.0.0.1:{port}"
    await channel.close()
    await server.stop(grace=None)


def timestamp(instant: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(instant)
    return ts


def request(**overrides: object) -> intake_pb2.SubmitDisclosureRequest:
    fields: dict[str, object] = {
        "idempotency_key": "k-1",
        "received_at": timestamp(datetime.now(UTC) - timedelta(hours=1)),
        "channel": intake_pb2.THIRD_PARTY,
        "victim": intake_pb2.Victim(
            tenant_ref="T-9", name="Synthetic Person", address=intake_pb2.Address(line1="2 Test Rd", postcode="NP44 1AB")
        ),
        "children": [intake_pb2.Child(age=3)],
    }
    fields.update(overrides)
    return intake_pb2.SubmitDisclosureRequest(**fields)


async def test_submit_then_get(stub) -> None:
    client, _, _ = stub
    disclosure = request()
    submitted = await client.SubmitDisclosure(disclosure, metadata=IDENTITY)
    assert submitted.created
    assert {d.kind for d in submitted.deadlines} == {"SAFE_CONTACT", "CASE_RECORDED", "CHILDRENS_REFERRAL"}
    case = await client.GetCase(intake_pb2.GetCaseRequest(case_id=submitted.case_id), metadata=IDENTITY)
    assert (case.channel, case.children_count, case.postcode_district, case.status) == (
        intake_pb2.THIRD_PARTY, 1, "NP44", "OPEN",
    )
    again = await client.SubmitDisclosure(disclosure, metadata=IDENTITY)
    assert (again.case_id, again.created) == (submitted.case_id, False)


async def test_no_identity_is_unauthenticated_and_stores_nothing(stub) -> None:
    client, app, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.SubmitDisclosure(request())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    partial = (("x-agency", "landlord"), ("x-role", "CHO"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.SubmitDisclosure(request(), metadata=partial)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert app.recorder.max_notification_id() is None


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"idempotency_key": ""}, "idempotency_key", "is required"),
        ({"idempotency_key": "k" * 129}, "idempotency_key", "at most 128 characters"),
        ({"channel": 99}, "channel", "Input should be"),
        ({"channel": intake_pb2.CHANNEL_UNSPECIFIED}, "channel", "is required"),
        ({"received_at": timestamp(datetime.now(UTC) + timedelta(days=2))}, "received_at", "in the future"),
        ({"children": [intake_pb2.Child(age=30)]}, "children[0].age", "less than or equal to 17"),
    ],
)
async def test_malformed_requests_name_the_field_and_store_nothing(stub, overrides, field, reason) -> None:
    client, app, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.SubmitDisclosure(request(**overrides), metadata=IDENTITY)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in raised.value.details()
    assert reason in violations(raised.value)[field]
    assert app.recorder.max_notification_id() is None


async def test_missing_received_at_and_victim_are_both_reported(stub) -> None:
    client, _, _ = stub
    bare = intake_pb2.SubmitDisclosureRequest(idempotency_key="k", channel=intake_pb2.STAFF)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.SubmitDisclosure(bare, metadata=IDENTITY)
    assert set(violations(raised.value)) == {"received_at", "victim"}


async def test_get_case_errors(stub) -> None:
    client, _, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.GetCase(intake_pb2.GetCaseRequest(case_id=""), metadata=IDENTITY)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "case_id" in violations(raised.value)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.GetCase(intake_pb2.GetCaseRequest(case_id="0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"), metadata=IDENTITY)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reused_key_for_another_disclosure_is_already_exists(stub) -> None:
    client, _, _ = stub
    disclosure = request()
    await client.SubmitDisclosure(disclosure, metadata=IDENTITY)
    changed = intake_pb2.SubmitDisclosureRequest()
    changed.CopyFrom(disclosure)
    del changed.children[:]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.SubmitDisclosure(changed, metadata=IDENTITY)
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_health_needs_no_identity(stub) -> None:
    _, _, address = stub
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_server_reflection_lists_the_services(stub) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    _, _, address = stub
    async with grpc.aio.insecure_channel(address) as channel:
        responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [s.name async for r in responses for s in r.list_services_response.service]
    assert {"intake.v1.IntakeService", "grpc.health.v1.Health"} <= set(names)


async def test_the_journey_over_grpc(stub) -> None:
    client, _, _ = stub
    submitted = await client.SubmitDisclosure(request(), metadata=IDENTITY)
    assert submitted.owner_cho == "cho-cwmbran"  # NP44 is on the Cwmbran patch
    now = timestamp(datetime.now(UTC))
    contact = intake_pb2.RecordSafeContactRequest(
        idempotency_key="c-1", case_id=submitted.case_id, outcome=intake_pb2.MADE, at=now, method="phone"
    )
    first = await client.RecordSafeContact(contact, metadata=IDENTITY)
    again = await client.RecordSafeContact(contact, metadata=IDENTITY)
    assert first.applied and not again.applied and first.version == again.version
    await client.RecordConsent(
        intake_pb2.RecordConsentRequest(
            idempotency_key="k-c", case_id=submitted.case_id, decision=intake_pb2.GIVEN, agencies=["idva"], at=now
        ),
        metadata=IDENTITY,
    )
    case = await client.GetCase(intake_pb2.GetCaseRequest(case_id=submitted.case_id), metadata=IDENTITY)
    assert case.safe_contact_made and case.owner_cho == "cho-cwmbran" and case.area == "Torfaen"
    assert [(c.agency, c.decision) for c in case.consent] == [("idva", intake_pb2.GIVEN)]
    listed = await client.ListCases(intake_pb2.ListCasesRequest(owner_cho="cho-cwmbran"), metadata=IDENTITY)
    assert [c.case_id for c in listed.cases] == [submitted.case_id]


@pytest.mark.parametrize(
    ("call", "message", "field"),
    [
        ("RecordSafeContact", intake_pb2.RecordSafeContactRequest(idempotency_key="x", case_id="0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a", outcome=9), "outcome"),
        ("RecordConsent", intake_pb2.RecordConsentRequest(idempotency_key="x", case_id="0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a", decision=intake_pb2.GIVEN), "agencies"),
        ("RecordNote", intake_pb2.RecordNoteRequest(idempotency_key="x", case_id="0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"), "text"),
        ("CloseCase", intake_pb2.CloseCaseRequest(case_id="not-a-uuid", reason="r"), "case_id"),
        ("ListCases", intake_pb2.ListCasesRequest(status="PENDING"), "status"),
    ],
)
async def test_journey_commands_name_the_bad_field(stub, call, message, field) -> None:
    client, _, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await getattr(client, call)(message, metadata=IDENTITY)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violations(raised.value)


async def test_journey_on_an_unknown_case_is_not_found(stub) -> None:
    client, _, _ = stub
    note = intake_pb2.RecordNoteRequest(idempotency_key="n", case_id="0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a", text="t")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.RecordNote(note, metadata=IDENTITY)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
