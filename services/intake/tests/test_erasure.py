"""Crypto-shredding in intake (ADR 0022): personal fields sealed with the victim's own key, so that
even the store key does not reveal them; EraseSubject (Housing Manager only) destroys the key,
after which they read "[erased]" while the case's non-personal history stays as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import grpc
import pytest
from google.protobuf import timestamp_pb2

from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.personal import ERASED
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities
from casework.intake.v1 import events_pb2, intake_pb2, intake_pb2_grpc
from intake.application import IntakeApplication
from intake.entrypoints import grpc_api
from intake.translation import to_contract

CHO = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-1"))
HOUSING_MANAGER = (("x-agency", "landlord"), ("x-role", "Housing Manager"), ("x-user", "hm-1"))
OTHER_AGENCY_MANAGER = (("x-agency", "gwent-police"), ("x-role", "HOUSING_MANAGER"), ("x-user", "p-1"))

NAME, LINE1, LINE2, POSTCODE = "Shredtest Synthetica", "41 Shredtest Row", "Shredtest Estate", "NP4 6QZ"
PHONE, TIMES, WORKER = "07700 900417", "after the shredtest bell", "Shredtest Worker"
FEARS, NOTE = "Shredtest Expartner", "Met Shredtest at the office"
NEEDLES = [NAME, LINE1, LINE2, POSTCODE, PHONE, TIMES, WORKER, FEARS, NOTE, "Shredtest", "1990-04-01"]


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[intake_pb2_grpc.IntakeServiceStub, IntakeApplication]]:
    identities = TestIdentities(tmp_path / "issuer")
    app = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    port = free_port()
    server, _ = build_server("intake", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port, identities.verifier)
    await server.start()
    channel = identities.aio_channel(f"127.0.0.1:{port}")
    yield intake_pb2_grpc.IntakeServiceStub(channel), app
    await channel.close()
    await server.stop(grace=None)


def _ts(instant: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(instant)
    return ts


async def _case_with_personal_data(client: intake_pb2_grpc.IntakeServiceStub) -> str:
    submitted = await client.SubmitDisclosure(intake_pb2.SubmitDisclosureRequest(
        idempotency_key="k-1", received_at=_ts(datetime.now(UTC) - timedelta(hours=1)), channel=intake_pb2.VICTIM_DIRECT,
        victim=intake_pb2.Victim(tenant_ref="T-41", name=NAME, date_of_birth="1990-04-01",
                                 address=intake_pb2.Address(line1=LINE1, line2=LINE2, postcode=POSTCODE)),
        children=[intake_pb2.Child(age=4)], support_worker=WORKER,
        safe_contact=intake_pb2.SafeContact(safe_phone=PHONE, safe_times=TIMES, may_leave_message=True),
    ), metadata=CHO)
    case_id = submitted.case_id
    await client.RecordNote(intake_pb2.RecordNoteRequest(idempotency_key="n-1", case_id=case_id, text=NOTE), metadata=CHO)
    await client.RecordMaracReferralDetails(intake_pb2.RecordMaracReferralDetailsRequest(
        idempotency_key="f-1", case_id=case_id, safe_to_call=True, safe_times=TIMES, who_victim_fears=FEARS,
    ), metadata=CHO)
    return case_id


def _erase(case_id: str, key: str = "e-1", subject: int = intake_pb2.VICTIM) -> intake_pb2.EraseSubjectRequest:
    return intake_pb2.EraseSubjectRequest(idempotency_key=key, case_id=case_id, subject=subject,
                                          reason="UK GDPR Art. 17 request, ref ER-1")


def _plaintext_events(app: IntakeApplication) -> list[bytes]:
    """Every stored event opened with the store's own key: what a holder of that key can read."""
    mapper = app.mapper
    plain = []
    for stored in app.recorder.select_notifications(start=1, limit=10_000):
        state = mapper.cipher.decrypt(stored.state) if mapper.cipher else stored.state
        plain.append(mapper.compressor.decompress(state) if mapper.compressor else state)
    return plain


async def test_personal_fields_are_sealed_even_from_a_holder_of_the_store_key(service) -> None:
    client, app = service
    await _case_with_personal_data(client)
    plain = b"\n".join(_plaintext_events(app))
    assert [n for n in NEEDLES if n.encode() in plain] == []
    assert b'"district":"NP4"' in plain.replace(b" ", b"")  # the patch stays in clear for routing
    assert b'"children_ages":[4]' in plain.replace(b" ", b"")


async def test_the_owner_reads_the_opened_values_and_after_erasure_reads_erased(service, tmp_path: Path) -> None:
    client, app = service
    case_id = await _case_with_personal_data(client)
    before = await client.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=CHO)
    assert (before.victim.name, before.victim.address.line1, before.victim.address.postcode) == (NAME, LINE1, POSTCODE)
    assert (before.safe_contact.safe_phone, before.safe_contact.safe_times) == (PHONE, TIMES)
    assert before.safe_contact.may_leave_message and not before.erased_subjects
    stored_before = _plaintext_events(app)

    erased = await client.EraseSubject(_erase(case_id), metadata=HOUSING_MANAGER)
    assert erased.erased and erased.subject == intake_pb2.VICTIM

    after = await client.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=CHO)
    assert after.victim.name == after.victim.address.line1 == after.victim.address.postcode == ERASED
    assert after.victim.date_of_birth == after.safe_contact.safe_phone == after.safe_contact.safe_times == ERASED
    assert list(after.erased_subjects) == [intake_pb2.VICTIM]
    # The non-personal history is what it was: patch, household, deadlines, status, notes count.
    for field in ("postcode_district", "children_count", "deadlines", "status", "owner_cho", "disclosures", "notes",
                  "tenant_ref", "received_at"):
        assert getattr(after, field) == getattr(before, field), field
    # Nothing rewritten: the same stored events, and one more (SubjectErased).
    stored_after = _plaintext_events(app)
    assert stored_after[: len(stored_before)] == stored_before and len(stored_after) == len(stored_before) + 1

    # Another replica (no cache) reads the same; the form's free text too.
    replica = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    case = replica.get_case(UUID(case_id))
    assert replica.sealer.open(case.details["marac_form"]["who_victim_fears"]) == ERASED
    assert replica.sealer.open(case.notes[0]["text"]) == ERASED
    assert replica.sealer.open_victim(case.victim)["name"] == ERASED


async def test_erasure_is_recorded_once_and_published_without_personal_data(service) -> None:
    client, app = service
    case_id = await _case_with_personal_data(client)
    first = await client.EraseSubject(_erase(case_id), metadata=HOUSING_MANAGER)
    retried = await client.EraseSubject(_erase(case_id), metadata=HOUSING_MANAGER)
    other_key = await client.EraseSubject(_erase(case_id, key="e-2"), metadata=HOUSING_MANAGER)
    assert (first.erased, retried.erased, other_key.erased) == (True, False, False)
    assert first.erased_at == retried.erased_at == other_key.erased_at

    stored = [n.topic for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert sum(t.endswith("Case.SubjectErased") for t in stored) == 1

    domain_event = next(e for e in app.notification_log.select(start=1, limit=1000) if e.topic.endswith("SubjectErased"))
    outgoing = to_contract(app.mapper.to_domain_event(domain_event))
    assert isinstance(outgoing.payload, events_pb2.SubjectErased)
    assert (outgoing.payload.case_id, outgoing.payload.subject) == (case_id, intake_pb2.VICTIM)
    assert b"GDPR" not in outgoing.payload.SerializeToString()  # the reason stays in intake


async def test_only_the_landlords_housing_manager_may_erase(service) -> None:
    client, _ = service
    case_id = await _case_with_personal_data(client)
    for identity in (CHO, OTHER_AGENCY_MANAGER):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.EraseSubject(_erase(case_id), metadata=identity)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    case = await client.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=CHO)
    assert case.victim.name == NAME and not case.erased_subjects


async def test_bad_erasure_requests_name_the_field(service) -> None:
    client, _ = service
    case_id = await _case_with_personal_data(client)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await client.EraseSubject(_erase(case_id, subject=intake_pb2.DATA_SUBJECT_UNSPECIFIED), metadata=HOUSING_MANAGER)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "subject" in (bad.value.details() or "")


async def test_no_new_personal_data_is_recorded_for_an_erased_victim(service) -> None:
    client, _ = service
    case_id = await _case_with_personal_data(client)
    await client.EraseSubject(_erase(case_id), metadata=HOUSING_MANAGER)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.RecordNote(intake_pb2.RecordNoteRequest(idempotency_key="n-2", case_id=case_id, text=NOTE),
                                metadata=CHO)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Non-personal facts still go on the record.
    changed = await client.RecordSafeContact(intake_pb2.RecordSafeContactRequest(
        idempotency_key="s-1", case_id=case_id, outcome=intake_pb2.ATTEMPTED, at=_ts(datetime.now(UTC))), metadata=CHO)
    assert changed.applied


async def test_a_long_case_is_snapshotted_sealed_and_still_erased(service, tmp_path: Path) -> None:
    """A case worked for long is loaded from a snapshot (ADR 0034), not replayed from its first
    event. The snapshot holds the case as its events do: personal fields sealed, so a holder of
    the store key reads none of them, and erasing the victim's key erases them there too."""
    client, app = service
    case_id = await _case_with_personal_data(client)
    for i in range(110):  # past the snapshot interval (100 events)
        await client.RecordNote(intake_pb2.RecordNoteRequest(idempotency_key=f"n-{i + 2}", case_id=case_id,
                                                             text=f"contact attempt {i}"), metadata=CHO)
    snapshots = list(app.snapshots.get(UUID(case_id))) if app.snapshots else []
    assert [s.originator_version for s in snapshots] == [100]
    replayed = _replay(app.events.get(UUID(case_id)))  # every event, from the first
    loaded = app.repository.get(UUID(case_id))
    assert vars(loaded) == vars(replayed)  # the snapshot and the replay agree, sets included
    state = app.snapshots.recorder.select_events(UUID(case_id))[0].state  # type: ignore[union-attr]
    plain = app.mapper.compressor.decompress(app.mapper.cipher.decrypt(state))  # type: ignore[union-attr]
    assert b"applied_keys" in plain and [n for n in NEEDLES if n.encode() in plain] == []

    await client.EraseSubject(_erase(case_id), metadata=HOUSING_MANAGER)
    replica = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))  # no cache: snapshot + events
    after = replica.get_case(UUID(case_id))
    assert replica.sealer.open_victim(after.victim)["name"] == ERASED
    assert replica.sealer.open(after.notes[0]["text"]) == ERASED
    assert len(after.notes) == 111


def _replay(events: Any) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
