"""Consumer lag on a real broker: measured on a timer as well as on delivery, so a consumer that
cannot apply anything (its store refusing writes) shows its backlog growing instead of the figure
of its last good batch; the backlog then drains to 0 once the store is back. A partition the
group gives to another consumer stops being reported here."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from caseplatform.consumer import _StartFromRecord
from caseplatform.runner import wire_service_broker
from caseplatform.testing import running_broker
from caseplatform.topology import topic_for

from .fakes import counting_consumer, incoming, until

pytestmark = pytest.mark.system

TOPIC = topic_for("intake")
REFRESH_S = 0.3


def _lag(partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "casework_consumer_lag_messages", {"service": "risk", "source_service": "intake", "partition": str(partition)}
    )


def test_a_consumer_that_cannot_apply_shows_its_backlog_growing_then_draining(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("caseplatform.consumer.LAG_REFRESH_S", REFRESH_S)
    monkeypatch.setattr("caseplatform.consumer.FAILED_BATCH_BACKOFF_MAX_S", 0.5)
    with running_broker(tmp_path / "broker") as tansu:
        asyncio.run(_scenario(tansu.bootstrap, tmp_path))


async def _scenario(bootstrap: str, tmp_path: Path) -> None:
    settings, app, inbox = await counting_consumer(bootstrap, tmp_path)
    read_only = {"on": False}
    apply_batch = inbox.apply_batch

    def refusing(runs: Any) -> Any:
        if read_only["on"]:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return apply_batch(runs)

    inbox.apply_batch = refusing  # type: ignore[method-assign]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    broker, consumer = wire_service_broker("risk", settings, inbox)
    assert consumer is not None
    await broker.start()
    watch = asyncio.create_task(consumer.watch_lag())
    try:
        async def publish(first: int, count: int) -> None:
            for n in range(first, first + count):  # one case's chain on partition 0
                event = incoming("case-lag", n, n - 1)
                await producer.send_and_wait(TOPIC, event.envelope.SerializeToString(), key=b"case-lag", partition=0)

        await publish(1, 3)
        await until(lambda: inbox.tracked("intake", 0) == 3, 20, "first events applied")
        await until(lambda: _lag(0) == 0, 5, "lag 0 when caught up")

        read_only["on"] = True  # the store refuses every write from now on
        await publish(4, 25)
        # Nothing is applied, nothing new is handed over for good: only the timer can see this.
        await until(lambda: _lag(0) == 25, 10, "the backlog reported while the store refuses writes")
        await asyncio.sleep(3 * REFRESH_S)
        assert _lag(0) == 25 and inbox.tracked("intake", 0) == 3

        read_only["on"] = False
        await until(lambda: inbox.tracked("intake", 0) == 28, 20, "backlog applied once the store is back")
        await until(lambda: _lag(0) == 0, 5, "lag back to 0")
    finally:
        watch.cancel()
        await broker.stop()
        await producer.stop()
        app.close()

    # A rebalance that gives the partition to another consumer of the group: not ours to report.
    listener = _StartFromRecord(consumer)
    await listener.on_partitions_revoked([TopicPartition(TOPIC, 0)])
    assert _lag(0) is None
