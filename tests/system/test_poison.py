"""A message nobody can read, on any service's topic, is parked on each consumer's dead-letter
topic with the reason, and the consumers carry on."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from caseplatform import topology
from caseplatform.devstack.stack import DevStack

from .client import Client, casectl, disclosure, eventually

pytestmark = pytest.mark.system


def consumers_of(source: str) -> list[str]:
    return [service for service, sources in topology.SUBSCRIPTIONS.items() if source in sources]


async def _produce_garbage(bootstrap: str, topics: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in topics:
            await producer.send_and_wait(topic, b"\x08\x96\x01 not an envelope", key=b"poison", partition=0)
    finally:
        await producer.stop()


async def _dead_letters(bootstrap: str, topic: str) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return [dict(r.headers) for records in batch.values() for r in records]
    finally:
        await consumer.stop()


def test_poison_on_every_topic_is_dead_lettered_and_the_flow_carries_on(stack: DevStack, client: Client) -> None:
    sources = [s for s in topology.SERVICES if consumers_of(s)]
    asyncio.run(_produce_garbage(stack.broker.bootstrap, [topology.topic_for(s) for s in sources]))
    submitted = client.submit(disclosure(children=1))
    # Consumers carry on past it: the disclosure reaches every service that reacts to it.
    eventually(lambda: client.risk_history(submitted.case_id))
    eventually(lambda: client.case_files(submitted.case_id))

    def referred_and_on_the_timeline() -> None:
        assert client.referrals(submitted.case_id).referrals
        assert client.timeline(submitted.case_id).entries

    eventually(referred_and_on_the_timeline)

    def parked() -> None:
        for source in sources:
            for service in consumers_of(source):
                headers = asyncio.run(_dead_letters(stack.broker.bootstrap, topology.dead_letter_topic_for(service)))
                poison = [h for h in headers if h.get("original-topic") == topology.topic_for(source).encode()]
                assert poison, (service, source)
                assert b"not an EventEnvelope" in poison[0]["dead-letter-reason"], (service, source)

    eventually(parked, timeout=60, interval=1)

    # The operator's view (ADR 0039), through casectl against each consumer's own OpsService:
    # the poison is listed with its reason as unreadable, and is not replayed (nothing to apply).
    for service in sorted({s for source in sources for s in consumers_of(source)}):
        at = ("--service", service, "--at", stack.grpc_address(service))
        listed = casectl(stack, "dead-letters", "list", *at)
        assert listed.returncode == 0, listed.stderr
        rows = [line for line in listed.stdout.splitlines() if "not an EventEnvelope" in line]
        assert rows and all("UNREADABLE" in row for row in rows), (service, listed.stdout)
        place = next(word for word in rows[0].split() if "@" in word and word.split("@")[0].isdigit())
        refused = casectl(stack, "dead-letters", "replay", *at, place)
        assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr, (service, refused.stderr)
        assert "nothing to replay" in refused.stderr
        pending = casectl(stack, "dead-letters", "replay", *at, "--all-pending")
        assert pending.returncode == 0 and "no pending dead letters" in pending.stdout, (service, pending)
        # Reasons and places, not case content, but an operations tool all the same.
        cso = casectl(stack, "dead-letters", "list", *at, role="CSO")
        assert cso.returncode == 1 and "PERMISSION_DENIED" in cso.stderr, (service, cso.stderr)
