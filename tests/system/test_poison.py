"""A message nobody can read is parked on the consumer's dead-letter topic with the reason,
and the consumers carry on."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from caseplatform.devstack.stack import DevStack

from .client import Client, disclosure, eventually

pytestmark = pytest.mark.system


async def _produce_garbage(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("intake.events.v1", b"\x08\x96\x01 not an envelope", key=b"poison", partition=0)
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


def test_poison_is_dead_lettered_and_the_flow_carries_on(stack: DevStack, client: Client) -> None:
    asyncio.run(_produce_garbage(stack.broker.bootstrap))
    submitted = client.submit(disclosure())
    eventually(lambda: client.risk_history(submitted.case_id))  # consumers carry on past it

    def parked() -> None:
        for service in ("risk", "referral", "marac", "repairs", "reporting"):
            headers = asyncio.run(_dead_letters(stack.broker.bootstrap, f"{service}.deadletter.v1"))
            poison = [h for h in headers if h.get("original-topic") == b"intake.events.v1"]
            assert poison, service
            assert b"not an EventEnvelope" in poison[0]["dead-letter-reason"], service

    eventually(parked, timeout=30, interval=1)
