"""A reader that stops at "the end" must find the true end on Tansu, whose ListOffsets reply
under-reports partitions written with multi-record batches (ADR 0003): `PartitionEnds` takes
the fetch's high watermark instead."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from caseplatform.kafka.admin import ensure_topics
from caseplatform.kafka.reading import PartitionEnds
from caseplatform.testing import running_broker

pytestmark = pytest.mark.system


async def test_the_end_is_where_the_last_record_is_not_where_list_offsets_says(tmp_path: Path) -> None:
    with running_broker(tmp_path) as broker:
        await ensure_topics(broker.bootstrap, ["ends.test"], 2)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=50)
        await producer.start()
        try:
            await asyncio.gather(*[await producer.send("ends.test", b"x", partition=0) for _ in range(500)])
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = [TopicPartition("ends.test", 0), TopicPartition("ends.test", 1)]
            consumer.assign(partitions)
            listed = await consumer.end_offsets(partitions)
            ends = PartitionEnds(consumer, listed)
            assert not ends.reached(partitions[1], 0)  # nothing known before a fetch answers
            read = 0
            while not all([ends.reached(tp, await consumer.position(tp)) for tp in partitions]):
                batch = await consumer.getmany(timeout_ms=500)
                ends.learn()
                read += sum(len(records) for records in batch.values())
        finally:
            await consumer.stop()
    assert read == ends.end(partitions[0]) == 500 and ends.end(partitions[1]) == 0
    assert listed[partitions[0]] < 500  # what a reader trusting ListOffsets would have stopped at
