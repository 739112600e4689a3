"""Read whole topics from the start: for tests, benches and operators' checks, never the services.

Each attempt is bounded in time, and a hung attempt is retried with a fresh client: an aiokafka
client talking to a broker that dropped a connection half-way can wait forever (seen with Tansu,
as in the relay, ADR 0009), and a reader that hangs turns a test of something else into a hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from caseplatform.aio import bounded

log = logging.getLogger(__name__)

BROKER_TROUBLE = (TimeoutError, OSError, KafkaError)  # what a short-lived reader meets when the broker is away


def text_headers(record: Any) -> dict[str, str]:
    """A record's headers as text; a header that is not UTF-8 text is left out (no header of
    ours is binary: one that is came from elsewhere and is not relied on)."""
    headers = {}
    for name, raw in record.headers or ():
        try:
            headers[name] = raw.decode()
        except (UnicodeDecodeError, AttributeError):
            continue
    return headers


async def start_reader(consumer: AIOKafkaConsumer, timeout_s: float, *, with_topics: bool = False) -> None:
    """Start a short-lived reader within `timeout_s` (and, `with_topics`, learn the topics'
    partitions). One that cannot start is closed and the error, one of BROKER_TROUBLE, raised."""
    try:
        await bounded(consumer.start(), timeout_s)
        if with_topics:
            await bounded(consumer.topics(), timeout_s)
    except BROKER_TROUBLE:
        await close_reader(consumer)
        raise


async def close_reader(consumer: AIOKafkaConsumer, timeout_s: float = 10) -> None:
    """Stop a short-lived reader, bounded in time. It is closed after trouble as well, so a
    failing stop is not an error (what is read is read), but a cancellation still cancels."""
    try:
        await bounded(consumer.stop(), timeout_s)
    except (Exception, asyncio.CancelledError):
        if (task := asyncio.current_task()) is not None and task.cancelling():
            raise
        log.debug("reader stop failed", exc_info=True)


async def read_topics(
    bootstrap: str,
    topics: Sequence[str],
    *,
    settle_s: float = 0.5,
    attempt_timeout_s: float = 60.0,
    attempts: int = 3,
) -> list[Any]:
    """Every record now on `topics`, in (topic, partition, offset) order. Stops when nothing new
    arrives for `settle_s`. Raises TimeoutError if every attempt hung."""
    for attempt in range(1, attempts + 1):
        try:
            return await bounded(_read_once(bootstrap, list(topics), settle_s), attempt_timeout_s)
        except TimeoutError:
            log.warning("reading %s took over %.0fs (attempt %d of %d)", topics, attempt_timeout_s, attempt, attempts)
    raise TimeoutError(f"could not read {list(topics)} in {attempts} attempts of {attempt_timeout_s:.0f}s")


async def _read_once(bootstrap: str, topics: list[str], settle_s: float) -> list[Any]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    records: list[Any] = []
    try:
        await consumer.start()
        while True:
            batch = await consumer.getmany(timeout_ms=int(settle_s * 1000), max_records=5000)
            if not batch:
                return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
            for rs in batch.values():
                records.extend(rs)
    finally:
        await close_reader(consumer, 5)


class PartitionEnds:
    """Where each partition ended when a reader began, for readers that stop there (a rebuild).

    Tansu's ListOffsets reply under-reports the end of a partition written with multi-record
    batches (ADR 0003), which the relay writes under load: a reader trusting `end_offsets` stops
    short and silently misses the tail. The high watermark in a fetch response is right, so a
    partition's end is the larger of the two, taken from the first fetch that answers for it;
    until then the listed end is only a lower bound and the partition is not finished.
    """

    def __init__(self, consumer: AIOKafkaConsumer, listed: dict[Any, int]) -> None:
        self._consumer = consumer
        self._listed = dict(listed)
        self._known: dict[Any, int] = {}

    def learn(self) -> None:
        """Take the high watermark of every partition a fetch has answered for since."""
        for tp, listed in self._listed.items():
            if tp not in self._known and (high := self._consumer.highwater(tp)) is not None:
                self._known[tp] = max(high, listed)

    def end(self, tp: Any) -> int:
        return self._known.get(tp, self._listed[tp])

    def reached(self, tp: Any, position: int) -> bool:
        return tp in self._known and position >= self._known[tp]
