"""`RebuildTimelines` (ADR 0024, ADR 0025, ADR 0042): every timeline row again from the topics.

Timeline rows are a view of the services' published events, and event topics are kept for ever
(`retention.ms=-1`, ADR 0017), so the topics are where a rebuild reads from — not another
service's store. The rebuild reads each topic reporting subscribes to from its first offset up to
where it ended when the rebuild began, makes each row as the live policy does (the same events
skipped: unreadable, of an unknown type, without a case, the read audit), stages the rows
in a table of their own and swaps it in whole at the end (`TimelineTable.swap_in`), keeping rows
the live consumer wrote meanwhile. A rebuild that fails or is cancelled drops its staged rows and
leaves the live table as it was.

A row is the envelope as read and what it is indexed by (its entry is derived when read), but
reading and staging are still Python per event, so a large rebuild splits the partitions between
worker processes (`rebuild_worker`), each reading its share and staging its rows into the same
table, one core each (`REPORTING_REBUILD_WORKERS`; by default one per core for a large rebuild).

Where "the end" is: Tansu's ListOffsets under-reports it for partitions written with
multi-record batches (the relay's, under load), so the fetch's high watermark decides
(`PartitionEnds`): trusting `end_offsets` silently dropped the tail of a busy partition.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_settings import BaseSettings, SettingsConfigDict

from caseplatform.kafka.reading import BROKER_TROUBLE, PartitionEnds, close_reader, start_reader
from caseplatform.kafka.security import kafka_client_options
from caseplatform.topology import SUBSCRIPTIONS, topic_for
from reporting.access_log import AUDIT_EVENT
from reporting.timelines.entries import Row, row_from_message
from reporting.timelines.table import TimelineTable

Progress = Callable[[int, int, int], None]  # (messages read, messages to read, rows written)
Stage = Callable[[Sequence[Row]], None]
STALL_S = 30.0  # no message for this long, short of the end: the broker is not answering
READ_BATCH = 2000  # rows derived between two yields to the event loop (the service answers meanwhile)
WORKER_BATCH = 10_000  # a worker serves nothing else
# Reading to the end, not following: large fetches keep each worker deriving, not waiting on
# the next fetch (aiokafka's defaults, 1 MiB a partition, cost a rebuild ~10 % of its rate).
FETCH_PARTITION_BYTES = 8 << 20
FETCH_BYTES = 64 << 20
WORKERS_FROM = 50_000
AUDIT_HEADER = ("event-type", AUDIT_EVENT.encode())  # as relays label the read audit's events  # fewer messages than this: one process (starting workers costs ~1 s)


class RebuildSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    rebuild_workers: int = 0  # 0: one per core for a large rebuild, else in the service's process


class BrokerUnavailable(Exception):
    """The topics could not be read to their end."""


async def rebuild_from_topics(
    table: TimelineTable, bootstrap: str, progress: Progress | None = None, *, workers: int | None = None
) -> int:
    """Rows written; raises BrokerUnavailable if the topics cannot be read to their end."""
    partitions, listed = await _survey(bootstrap)
    count = _worker_count(workers, len(partitions), listed)
    staging = ""
    try:
        staging = await asyncio.to_thread(table.open_staging)
        if count <= 1:
            read, total, written = await read_partitions(bootstrap, partitions, partial(table.stage, staging), progress)
        else:
            read, total, written = await _in_workers(table, bootstrap, partitions, staging, count, progress)
        # Cancelled during the swap, the swap still finishes or rolls back whole; the drop below
        # then waits for it and finds nothing left to drop, or the staged rows.
        await asyncio.to_thread(table.swap_in, staging)
        staging = ""
        if progress is not None:
            progress(read, total, written)
        return written
    finally:
        if staging:
            await asyncio.shield(asyncio.to_thread(table.drop_staging, staging))


def _worker_count(asked: int | None, partitions: int, listed: int) -> int:
    if asked is None:
        asked = RebuildSettings().rebuild_workers
    if not asked:
        asked = (os.cpu_count() or 1) if listed >= WORKERS_FROM else 1
    return max(1, min(asked, partitions))


async def _survey(bootstrap: str) -> tuple[list[TopicPartition], int]:
    """The partitions to read and how many messages they listed (a lower bound, see above)."""
    consumer = await _started_consumer(bootstrap)
    try:
        partitions = await _partitions(consumer)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        return partitions, sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await close_reader(consumer)


async def read_partitions(
    bootstrap: str, partitions: Sequence[TopicPartition], stage: Stage, progress: Progress | None,
    batch: int = READ_BATCH,
) -> tuple[int, int, int]:
    """Read `partitions` to where they ended, staging the rows; (messages read, to read, rows)."""
    consumer = await _started_consumer(bootstrap)
    try:
        consumer.assign(list(partitions))
        starts = await consumer.beginning_offsets(list(partitions))
        ends = await consumer.end_offsets(list(partitions))
        return await _read_to_end(consumer, stage, starts, ends, progress, batch)
    finally:
        await close_reader(consumer)


async def _started_consumer(bootstrap: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100, auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_PARTITION_BYTES, fetch_max_bytes=FETCH_BYTES,
        **kafka_client_options(bootstrap),
    )
    try:
        await start_reader(consumer, STALL_S)
    except BROKER_TROUBLE as exc:
        raise BrokerUnavailable(f"cannot reach the broker: {type(exc).__name__}") from exc
    return consumer


async def _partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    existing = await consumer.topics()
    found: list[TopicPartition] = []
    for service in SUBSCRIPTIONS["reporting"]:
        topic = topic_for(service)
        if topic in existing:
            found += [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    return found


async def _read_to_end(
    consumer: AIOKafkaConsumer, stage: Stage, starts: dict, listed_ends: dict, progress: Progress | None, batch_size: int
) -> tuple[int, int, int]:
    ends = PartitionEnds(consumer, listed_ends)
    writer = _Writer(stage)
    remaining = set(listed_ends)
    read = 0

    def total() -> int:
        return sum(ends.end(tp) - starts[tp] for tp in listed_ends)

    last_message = time.monotonic()
    try:
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch_size)
            ends.learn()
            rows = []
            for tp, records in batch.items():
                end = ends.end(tp)
                for record in records:
                    if record.offset >= end:
                        continue  # published after the rebuild began: the live consumer has it
                    read += 1
                    if AUDIT_HEADER in record.headers:
                        continue  # the read audit, never on a timeline: not even parsed (a share of every topic)
                    row = row_from_message(record.value)  # None: poison (dead-lettered live), no case
                    if row is not None:
                        rows.append(row)
            for tp in list(remaining):
                if ends.reached(tp, await consumer.position(tp)):
                    remaining.discard(tp)
            if batch:
                last_message = time.monotonic()
            elif remaining and time.monotonic() - last_message > STALL_S:
                raise BrokerUnavailable(f"no message for {STALL_S:.0f}s with {total() - read} still to read")
            await writer.write(rows)
            if progress is not None:
                progress(read, total(), writer.written)
    finally:
        await asyncio.shield(writer.flush())
    return read, total(), writer.written


class _Writer:
    """Stages one batch of rows on a worker thread while the next batch is read and derived:
    at most one batch in flight, and none left running when the read ends."""

    def __init__(self, stage: Stage) -> None:
        self._stage = stage
        self._in_flight: asyncio.Future | None = None
        self._in_flight_rows = 0
        self.written = 0

    async def write(self, rows: list) -> None:
        if not rows:
            return
        await self.flush()
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(self._stage, rows))
        self._in_flight_rows = len(rows)

    async def flush(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            await in_flight
            self.written += self._in_flight_rows


async def _in_workers(
    table: TimelineTable, bootstrap: str, partitions: list[TopicPartition], staging: str, count: int,
    progress: Progress | None,
) -> tuple[int, int, int]:
    """The partitions shared out between `count` processes (`python -m reporting.timelines.
    rebuild_worker`), each staging its own rows. A worker is told its job on stdin (the store's
    settings may hold credentials: never on a command line) and answers with figures on stdout."""
    app = table.app
    figures: dict[int, tuple[int, int, int]] = {}
    workers = []
    try:
        for i in range(count):
            job = {
                "worker": i, "settings": app.settings.model_dump(mode="json"), "env": app.env_overrides,
                "bootstrap": bootstrap, "share": [[tp.topic, tp.partition] for tp in partitions[i::count]],
                "staging": staging,
            }
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "reporting.timelines.rebuild_worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
            worker.stdin.write(json.dumps(job).encode())  # type: ignore[union-attr]
            worker.stdin.close()  # type: ignore[union-attr]
            workers.append(worker)

        def report() -> None:
            if progress is not None:
                progress(*(sum(f[k] for f in figures.values()) for k in range(3)))

        await asyncio.gather(*(_follow(i, worker, figures, report) for i, worker in enumerate(workers)))
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    return tuple(sum(f[k] for f in figures.values()) for k in range(3))  # type: ignore[return-value]


async def _follow(i: int, worker: Any, figures: dict[int, tuple[int, int, int]], report: Callable[[], None]) -> None:
    outcome: dict[str, Any] = {}
    async for line in worker.stdout:
        outcome = json.loads(line)
        if outcome["kind"] in ("progress", "done"):
            figures[i] = tuple(outcome["figures"])  # type: ignore[assignment]
            report()
    code = await worker.wait()
    if outcome.get("kind") == "unavailable":
        raise BrokerUnavailable(outcome["reason"])
    if outcome.get("kind") != "done" or code != 0:
        raise RuntimeError(f"rebuild worker {i} stopped (exit {code}): {outcome.get('reason', 'no reason given')}")
