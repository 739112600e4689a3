"""The synthetic victim's name, safe phone, safe times and addresses never leave intake's encrypted
store: not on any Kafka topic (payloads or keys), not in any log line, metric or span, and not in
clear in any service's store file (events are encrypted at rest)."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from caseplatform.devstack.stack import DevStack
from casework.intake.v1 import intake_pb2

from .client import STAFF, Client, disclosure, eventually

pytestmark = pytest.mark.system

# Synthetic values, each distinctive enough that any hit is this victim's data.
NAME = "Leakcheck Synthetica"
SAFE_PHONE = "07700 900999"  # an Ofcom drama number
SAFE_TIMES = "after the leakcheck bell"
ADDRESS = ("99 Leakcheck Lane", "NP4 6ZZ")
NEW_ADDRESS = ("12 Leakcheck Moved Close", "NP4 6QQ")
NEEDLES = [NAME, "Leakcheck", "leakcheck", SAFE_PHONE, SAFE_PHONE.replace(" ", ""), "NP4 6ZZ", "NP46ZZ",
           "NP4 6QQ", "NP46QQ"]


async def _every_message(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.endswith(".v1"))
        consumer.subscribe(topics)
        chunks: list[bytes] = []
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=1000)
            idle = 0 if batch else idle + 1
            chunks += [(r.key or b"") + b"\0" + (r.value or b"") for records in batch.values() for r in records]
        return chunks
    finally:
        await consumer.stop()


def _hits(blob: bytes) -> list[str]:
    return [n for n in NEEDLES if n.encode() in blob]


def test_no_personal_data_outside_intakes_encrypted_store(stack: DevStack, client: Client) -> None:
    request = disclosure(children=1)
    request.victim.name = NAME
    request.victim.address.CopyFrom(intake_pb2.Address(line1=ADDRESS[0], postcode=ADDRESS[1]))
    request.safe_contact.CopyFrom(intake_pb2.SafeContact(safe_phone=SAFE_PHONE, safe_times=SAFE_TIMES))
    case_id = client.submit(request).case_id
    client.intake.CorrectDetails(intake_pb2.CorrectDetailsRequest(
        idempotency_key=str(uuid.uuid4()), case_id=case_id, reason="moved to a safe address",
        victim=intake_pb2.Victim(tenant_ref=request.victim.tenant_ref, name=NAME,
                                 address=intake_pb2.Address(line1=NEW_ADDRESS[0], postcode=NEW_ADDRESS[1]))),
        metadata=STAFF, timeout=10)
    # intake still knows it (its own store, encrypted), and the case flowed through every service
    case = client.intake.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=STAFF, timeout=10)
    assert case.case_id == case_id

    def flowed() -> None:
        types = {e.event_type for e in client.timeline(case_id).entries}
        assert {"intake.v1.DetailsCorrected", "referral.v1.ReferralRequired"} <= types, types

    eventually(flowed, timeout=60)

    found: dict[str, list[str]] = {}
    messages = asyncio.run(_every_message(stack.broker.bootstrap))
    # The scan sees this case: its pseudonymous tenancy reference is on Kafka by design.
    assert any(request.victim.tenant_ref.encode() in m for m in messages)
    for i, message in enumerate(messages):
        if hits := _hits(message):
            found[f"kafka message {i}"] = hits
    files = [p for p in sorted(stack.data_dir.rglob("*")) if p.is_file()]
    assert {p.suffix for p in files} >= {".log", ".jsonl"}  # logs and traces (and SQLite stores when used)
    for path in files:
        if hits := _hits(path.read_bytes()):
            found[str(path.relative_to(stack.data_dir))] = hits
    for service in stack.services:
        with urllib.request.urlopen(stack.metrics_url(service), timeout=10) as response:
            if hits := _hits(response.read()):
                found[f"{service} /metrics"] = hits
    assert found == {}, found
