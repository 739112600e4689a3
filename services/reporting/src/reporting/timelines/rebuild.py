"""`RebuildTimelines` (ADR 0024): derive every timeline row again from the topics.

Timeline rows are a view of the services' published events, and event topics are kept for ever
(`retention.ms=-1`, ADR 0017), so the topics are where a rebuild reads from — not another
service's store. The rebuild reads each topic reporting subscribes to from its first offset up to
where it ended when the rebuild began, derives each row exactly as the live policy does (the same
events skipped: unreadable, of an unknown type, without a case, the read audit), and writes it
over what the table holds. The live consumer carries on meanwhile: both write the same row for
the same event, so the order they meet in does not matter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from caseplatform.envelope import IncomingEvent, UnreadableMessage, parse_envelope
from caseplatform.kafka.security import kafka_client_options
from caseplatform.topology import SUBSCRIPTIONS, topic_for
from reporting.access_log import is_audit
from reporting.timelines.entries import entry_from
from reporting.timelines.table import TimelineTable

Progress = Callable[[int, int, int], None]  # (messages read, messages to read, rows written)
STALL_S = 30.0  # no message for this long, short of the end: the broker is not answering


class BrokerUnavailable(Exception):
    """The topics could not be read to their end."""


def on_timeline(event: IncomingEvent) -> bool:
    """What the live policy puts on a timeline (see `ReportingApplication.policy` and the inbox)."""
    return bool(event.case_id) and event.payload is not None and event.payload_error is None and not is_audit(event)


async def rebuild_from_topics(table: TimelineTable, bootstrap: str, progress: Progress | None = None) -> int:
    """Rows written; raises BrokerUnavailable if the topics cannot be read to their end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100, auto_offset_reset="earliest",
        **kafka_client_options(bootstrap),
    )
    try:
        await asyncio.wait_for(consumer.start(), STALL_S)
    except (TimeoutError, OSError, KafkaError) as exc:
        await _close(consumer)
        raise BrokerUnavailable(f"cannot reach the broker: {type(exc).__name__}") from exc
    try:
        partitions = await _partitions(consumer)
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        return await _read_to_end(consumer, table, starts, ends, progress)
    finally:
        await _close(consumer)


async def _close(consumer: AIOKafkaConsumer) -> None:
    try:
        await asyncio.wait_for(consumer.stop(), 10)
    except (Exception, asyncio.CancelledError):  # closing after trouble: what is read is read
        if (task := asyncio.current_task()) is not None and task.cancelling():
            raise


async def _partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    existing = await consumer.topics()
    found: list[TopicPartition] = []
    for service in SUBSCRIPTIONS["reporting"]:
        topic = topic_for(service)
        if topic in existing:
            found += [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    return found


async def _read_to_end(
    consumer: AIOKafkaConsumer, table: TimelineTable, starts: dict, ends: dict, progress: Progress | None
) -> int:
    total = sum(ends[tp] - starts[tp] for tp in ends)
    remaining = {tp for tp in ends if ends[tp] > starts[tp]}
    read = written = 0
    last_message = time.monotonic()
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=1000)
        rows = []
        for tp, records in batch.items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue  # published after the rebuild began: the live consumer has it
                read += 1
                try:
                    event = parse_envelope(record.value)
                except UnreadableMessage:
                    continue  # poison: the live consumer dead-lettered it
                if on_timeline(event):
                    rows.append(TimelineTable.row(entry_from(event)))
            if records and records[-1].offset + 1 >= ends[tp]:
                remaining.discard(tp)
        if batch:
            last_message = time.monotonic()
        elif time.monotonic() - last_message > STALL_S:
            raise BrokerUnavailable(f"no message for {STALL_S:.0f}s with {total - read} still to read")
        if rows:
            await asyncio.to_thread(table.rederive, rows)
            written += len(rows)
        if progress is not None:
            progress(read, total, written)
    return written
