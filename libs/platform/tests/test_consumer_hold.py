"""ADR 0038 on a real broker: an event this build does not understand holds its partition — the
consumer goes back to it, pauses, tries again a few seconds later, and commits the group's offset
there — until a build that understands it applies it and everything after it, nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from caseplatform.runner import wire_broker
from caseplatform.testing import running_broker
from caseplatform.topology import topic_for

from .fakes import Counter, counting_consumer, incoming, until

pytestmark = pytest.mark.system

NEWER_CHANNEL = 97  # a value a newer intake could add to intake.v1.Channel
TOPIC = topic_for("intake")


def _held_count() -> float:
    return REGISTRY.get_sample_value(
        "casework_events_consumed_total", {"service": "risk", "source_service": "intake", "outcome": "held"}
    ) or 0.0


async def _committed(bootstrap: str) -> int | None:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="risk", enable_auto_commit=False)
    await reader.start()
    try:
        return await reader.committed(TopicPartition(TOPIC, 0))
    finally:
        await reader.stop()


RETRY_S = 1.0  # the consumer's pause before trying a held event again (5 s in service), shortened


def test_a_held_event_is_retried_until_understood_then_the_partition_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("caseplatform.consumer.REWIND_INTERVAL_S", RETRY_S)
    with running_broker(tmp_path / "broker") as tansu:
        asyncio.run(_scenario(tansu.bootstrap, tmp_path))


async def _scenario(bootstrap: str, tmp_path: Path) -> None:
    settings, app, inbox = await counting_consumer(bootstrap, tmp_path)
    chain = [incoming("a", 1, 0), incoming("a", 2, 1, channel=NEWER_CHANNEL), incoming("a", 3, 2)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in chain:  # offsets 0, 1, 2 of partition 0
            await producer.send_and_wait(TOPIC, event.envelope.SerializeToString(), key=b"a", partition=0)
    finally:
        await producer.stop()
    held_before = _held_count()
    broker = wire_broker("risk", settings, inbox)
    await broker.start()
    try:
        await until(lambda: _held_count() >= held_before + 3, 10 * RETRY_S)  # held, tried again and again
        assert inbox.tracked("intake", 0) == 1  # the event before it, nothing after it
        assert app.repository.get(Counter.create_id("a")).seen == [chain[0].envelope.event_id]
        assert await _committed(bootstrap) == 1  # a restarted consumer starts at the held event

        app.understands_channel = NEWER_CHANNEL  # the upgraded build
        await until(lambda: inbox.tracked("intake", 0) == 3, 10 * RETRY_S)
        assert app.repository.get(Counter.create_id("a")).seen == [e.envelope.event_id for e in chain]
    finally:
        await broker.stop()
        app.close()
