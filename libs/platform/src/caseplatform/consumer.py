"""The FastStream side of the tracked consumer: subscribe, group a fetched batch by partition,
hand each run to the inbox, dead-letter what cannot be read or applied.

Broker offsets are committed only after the inbox recorded the batch (ack after processing),
but they are an optimisation: the inbox's tracking is the position of record.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from caseplatform import metrics
from caseplatform.envelope import IncomingEvent, UnreadableMessage, parse_envelope
from caseplatform.inbox import Inbox
from caseplatform.kafka.reading import text_headers
from caseplatform.settings import PlatformSettings
from caseplatform.topology import dead_letter_topic_for, topic_for

log = logging.getLogger(__name__)

REWIND_INTERVAL_S = 5.0
COMMIT_INTERVAL_S = 1.0
# Lag is also measured on a timer, not only when records arrive: a consumer that cannot apply
# (a store refusing writes, a held partition) receives nothing new, and its gauge would stay at
# the figure of its last good batch while the backlog grew — the one time the alert matters.
LAG_REFRESH_S = 10.0
LAG_QUERY_TIMEOUT_S = 5.0
FAILED_BATCH_BACKOFF_S, FAILED_BATCH_BACKOFF_MAX_S = 0.2, 5.0


async def _the_message(msg: KafkaMessage) -> KafkaMessage:
    """The subscriber's decoder: the handler works on the raw records (`TrackedConsumer._read`)."""
    return msg


class _StartFromRecord(ConsumerRebalanceListener):
    def __init__(self, owner: TrackedConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._owner.forget_partitions(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._owner.start_positions(assigned)


class PromptBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber (0.7) sleeps `batch_timeout_ms` after every empty `getmany`,
    which has itself just waited that long for data: a message arriving during the sleep waits
    for it, on every hop between services when they are not busy (measured on Tansu: send to
    handler p50 58 ms with the sleep, 29 ms without). This one sleeps only when `getmany` came
    back empty early (nothing assigned, e.g. during a rebalance): the busy loop that sleep is for.

    It also lingers (ADR 0030): a batch of fewer than `LINGER_BELOW` records waits `linger_s`
    for what else is already on its way, the consumer's counterpart of a producer's linger.
    A batch costs about as much to apply whether it holds one event or ten (a transaction, the
    tracking record, a commit): at 10 disclosures/s, events applied as they came cost the stack
    97 ms of CPU per disclosure, 80 ms with a 5 ms linger, for no latency that could be measured."""

    __slots__ = ()
    linger_s: float = 0.0  # set per process by `TrackedConsumer` (a subclass per value)

    async def get_msg(self, consumer: Any) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        wait_s = self.batch_timeout_ms / 1000
        messages = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
        if messages:
            got = sum(map(len, messages.values()))
            if self.linger_s and got < LINGER_BELOW:
                await asyncio.sleep(self.linger_s)
                more = await consumer.getmany(timeout_ms=0, max_records=self.max_records - got)
                for tp, records in more.items():  # each partition's records stay in offset order
                    messages[tp] = [*messages.get(tp, ()), *records]
            return tuple(chain.from_iterable(messages.values()))
        if loop.time() - started < wait_s / 2:
            await asyncio.sleep(wait_s)
        return ()


LINGER_BELOW = 50  # a batch this large already spreads its cost: no wait


@functools.cache
def _prompt_subscriber(linger_s: float) -> type[PromptBatchSubscriber]:
    return type("PromptBatchSubscriber", (PromptBatchSubscriber,), {"__slots__": (), "linger_s": linger_s})


def _resume(consumer: Any, tp: TopicPartition) -> None:
    try:
        if tp in consumer.assignment():
            consumer.resume(tp)
    except Exception:  # noqa: BLE001 - the consumer has stopped or lost the partition meanwhile
        log.debug("resume of %s skipped", tp)


class TrackedConsumer:
    def __init__(
        self,
        broker: KafkaBroker,
        service: str,
        sources: tuple[str, ...],
        settings: PlatformSettings,
        inbox: Inbox | None,
        before_batch: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        # inbox None: wired for documentation (AsyncAPI) only, never started.
        # before_batch: awaited before each batch is applied (the relay's back-pressure).
        self.service = service
        self._before_batch = before_batch
        self._broker = broker
        self._inbox = inbox
        self._by_topic = {topic_for(source): source for source in sources}
        self.dead_letters = broker.publisher(
            dead_letter_topic_for(self.service),
            title=f"{self.service}: dead letters",
            description="Messages this service could not read or apply, with the reason in the "
            "'dead-letter-reason' header and the original topic, partition and offset.",
        )
        self._rewound_at: dict[tuple[str, int], float] = {}
        # Per partition: the offset of the first record not yet applied, as far as this process knows.
        self._handled_to: dict[TopicPartition, int] = {}
        self._committed_at = 0.0
        self._failed_in_a_row = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        if inbox is not None:
            inbox.park_with(self.park)
        self.subscriber = broker.subscriber(
            *self._by_topic,
            group_id=self.service,
            batch=True,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
            batch_timeout_ms=settings.consumer_batch_wait_ms,
            max_records=1000,
            # Offsets are committed by `on_events`, at most once a second; a failed batch is rewound.
            ack_policy=AckPolicy.MANUAL,
            # The handler is given the message itself: FastStream's own decoding (each record
            # parsed again into a message of its own, its body tried as JSON) was half of an
            # idle-ish service's event loop, for bodies the inbox parses anyway.
            decoder=_the_message,
            title=f"{self.service}: on_events",
            description=f"The {self.service} service's policies, applied exactly once per event.",
            listener=_StartFromRecord(self),
        )
        self.subscriber(self.on_events)
        if type(self.subscriber) is BatchSubscriber:  # same slots: only get_msg differs
            self.subscriber.__class__ = _prompt_subscriber(settings.consumer_linger_ms / 1000)

    async def on_events(self, msg: KafkaMessage) -> None:
        try:
            await self._apply(msg)
        except Exception:
            await msg.nack()  # each partition of the batch re-read from its earliest record here
            await self._back_off()
            raise
        self._failed_in_a_row = 0
        # Committed offsets only save re-reading after a restart (the inbox's tracking is the
        # record, and drops what is read twice): one commit a second, not one per batch.
        now = time.monotonic()
        if now - self._committed_at >= COMMIT_INTERVAL_S:
            self._committed_at = now
            await msg.ack()

    async def _back_off(self) -> None:
        """A batch that failed (a store not answering, the dead-letter topic unreachable) is read
        again, but not at once: 0.2 s, doubling to 5 s while failures follow each other, so a
        store that is down is not hammered (nor the log filled) many times a second."""
        delay = min(FAILED_BATCH_BACKOFF_S * 2 ** self._failed_in_a_row, FAILED_BATCH_BACKOFF_MAX_S)
        self._failed_in_a_row += 1
        log.warning("%s: applying a batch failed (%d in a row); reading it again in %.1fs",
                    self.service, self._failed_in_a_row, delay)
        await asyncio.sleep(delay)

    async def _apply(self, msg: KafkaMessage) -> None:
        self._loop = asyncio.get_running_loop()
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        runs: dict[tuple[str, int], list[IncomingEvent]] = defaultdict(list)
        offsets: dict[tuple[str, int], list[int]] = defaultdict(list)  # each run's records' offsets
        for record in records:
            try:
                event = self._read(record)
            except UnreadableMessage as exc:
                await self._dead_letter(record, str(exc))
                continue
            runs[(self._by_topic[record.topic], record.partition)].append(event)
            offsets[(self._by_topic[record.topic], record.partition)].append(record.offset)
        assert self._inbox is not None
        if self._before_batch is not None:
            await self._before_batch()
        held: dict[TopicPartition, int] = {}
        gapped: set[TopicPartition] = set()  # read again from the start: not handled yet
        if runs:
            outcomes = await asyncio.to_thread(self._inbox.apply_batch, runs)
            for (source, partition), outcome in outcomes.items():
                if outcome.held_at is not None:
                    offset = offsets[(source, partition)][outcome.held_at]
                    held[TopicPartition(topic_for(source), partition)] = offset
                    await self._hold(msg, topic_for(source), partition, offset)
                elif outcome.gaps:
                    gapped.add(TopicPartition(topic_for(source), partition))
                    self._rewind(msg, topic_for(source), partition)
        for record in records:  # offset order within a partition: the last one wins
            if (tp := TopicPartition(record.topic, record.partition)) not in gapped:
                self._handled_to[tp] = record.offset + 1
        self._handled_to.update(held)
        consumer = getattr(msg, "consumer", None)
        if consumer is not None:
            self._export_lag(consumer, {TopicPartition(r.topic, r.partition) for r in records}, {})

    def _rewind(self, msg: Any, topic: str, partition: int) -> None:
        """A gap means we are behind what this partition's chain needs: either the broker lost
        messages (the relay is replaying them) or the broker's committed offset ran ahead of our
        store. Re-reading the partition from its start heals both; duplicates are ignored.
        At most once every few seconds per partition, so a replay in progress is not chased."""
        now = time.monotonic()
        if now - self._rewound_at.get((topic, partition), -REWIND_INTERVAL_S) < REWIND_INTERVAL_S:
            return
        self._rewound_at[(topic, partition)] = now
        consumer = getattr(msg, "consumer", None)
        if consumer is not None:
            log.warning("%s: gap on %s[%d]; re-reading the partition from its start", self.service, topic, partition)
            consumer.seek(TopicPartition(topic, partition), 0)

    async def _hold(self, msg: Any, topic: str, partition: int, offset: int) -> None:
        """An event this build does not understand yet (ADR 0038): the partition goes back to it
        and pauses; in a few seconds it is read and tried again, until a build that knows it runs.
        The group's offset is committed there too, so a restarted (upgraded) consumer starts at it."""
        consumer = getattr(msg, "consumer", None)
        if consumer is None:
            return
        tp = TopicPartition(topic, partition)
        consumer.seek(tp, offset)
        consumer.pause(tp)
        asyncio.get_running_loop().call_later(REWIND_INTERVAL_S, _resume, consumer, tp)
        try:
            await consumer.commit({tp: offset})
        except Exception:  # noqa: BLE001 - a rebalance under way: the store is the record anyway
            log.info("%s: could not commit the held offset of %s[%d]", self.service, topic, partition)

    async def start_positions(self, assigned: Any) -> None:
        """On assignment, a partition this store has never applied anything from is read from its
        start, whatever offset the broker remembers for the group: the store is the record."""
        if self._inbox is None or self.subscriber.consumer is None:
            return
        for tp in assigned:
            source = self._by_topic.get(tp.topic)
            if source and await asyncio.to_thread(self._inbox.tracked, source, tp.partition) == 0:
                self.subscriber.consumer.seek(tp, 0)

    def _read(self, record: Any) -> IncomingEvent:
        event = parse_envelope(record.value, text_headers(record))
        if event.source_service != self._by_topic.get(record.topic):
            raise UnreadableMessage(
                f"envelope from {event.source_service!r} on topic {record.topic!r}"
            )
        return event

    async def _dead_letter(self, record: Any, reason: str) -> None:
        log.warning("%s: dead-lettering %s[%s]@%s: %s", self.service, record.topic, record.partition, record.offset, reason)
        metrics.EVENTS_CONSUMED.labels(self.service, self._by_topic.get(record.topic, "?"), "dead_lettered").inc()
        await self.dead_letters.publish(
            record.value or b"",
            headers={
                "dead-letter-reason": reason[:500],
                "original-topic": record.topic,
                "original-partition": str(record.partition),
                "original-offset": str(record.offset),
            },
        )

    def park(self, source: str, partition: int, event: IncomingEvent, reason: str) -> None:
        """For the inbox (in its worker thread): publish the dead letter and wait for the ack."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self._dead_letter_event(topic_for(source), partition, event, reason), self._loop
        )
        future.result(timeout=60)

    async def _dead_letter_event(self, topic: str, partition: int, event: IncomingEvent, reason: str) -> None:
        await self.dead_letters.publish(
            event.envelope.SerializeToString(),
            headers={
                "dead-letter-reason": reason[:500],
                "original-topic": topic,
                "original-partition": str(partition),
                "event-type": event.event_type,
                "notification-id": str(event.notification_id),
            },
        )

    def _export_lag(self, consumer: Any, partitions: Any, listed_ends: dict[TopicPartition, int]) -> None:
        """Lag of each partition: its end (the larger of the broker's listed end and the last
        fetch's high-water mark; Tansu under-lists ends inside multi-record batches) less the
        first offset not yet applied. Partitions with neither figure yet are left unset."""
        for tp in partitions:
            source = self._by_topic.get(tp.topic)
            handled = self._handled_to.get(tp)
            if source is None or handled is None:
                continue
            end = max(listed_ends.get(tp, 0), consumer.highwater(tp) or 0)
            if end:
                metrics.CONSUMER_LAG.labels(self.service, source, str(tp.partition)).set(max(end - handled, 0))

    async def watch_lag(self) -> None:
        """Measure the lag every `LAG_REFRESH_S`, records or none (see `LAG_REFRESH_S`)."""
        while True:
            await asyncio.sleep(LAG_REFRESH_S)
            await self.refresh_lag()

    async def refresh_lag(self) -> None:
        consumer = self.subscriber.consumer
        if consumer is None:
            return
        partitions = [tp for tp in consumer.assignment() if tp.topic in self._by_topic]
        if not partitions:
            return
        for tp in partitions:
            if tp not in self._handled_to:  # nothing applied here since this process started
                try:
                    self._handled_to[tp] = await asyncio.wait_for(consumer.committed(tp), LAG_QUERY_TIMEOUT_S) or 0
                except Exception:  # noqa: BLE001 - the broker is away: try again at the next refresh
                    return
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), LAG_QUERY_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the broker is away: the last figures stand until it is back
            log.debug("%s: lag not measured (broker not answering)", self.service)
            return
        self._export_lag(consumer, partitions, ends)

    def forget_partitions(self, revoked: Any) -> None:
        """Partitions another consumer of the group now has: their lag is that one's to report."""
        for tp in revoked:
            self._handled_to.pop(tp, None)
            if (source := self._by_topic.get(tp.topic)) is not None:
                try:
                    metrics.CONSUMER_LAG.remove(self.service, source, str(tp.partition))
                except KeyError:
                    pass  # never reported
