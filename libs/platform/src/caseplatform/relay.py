"""The outbox relay: tails a service's notification log and publishes to its Kafka topic.

No dual writes: a request only writes the store; this relay alone writes Kafka, in
notification order, and records how far it got after the broker acknowledged.

Each message names the previous notification id sent to the same partition. That makes every
partition a chain consumers can check: a message whose predecessor they have not handled
is a gap (the broker lost something), not something to apply out of order.

The broker is a transport, not a record (ARCHITECTURE.md decision 3). The relay checks that
the broker still holds its chain — at start, on every acknowledged offset, and when idle — and
if not (a fresh or reset broker) it replays the whole log; consumers' tracking absorbs repeats.
A partition need not start at offset 0: retention or an operator may have trimmed its front, so
the check reads from the partition's log start offset.

Replicas of a service each run this loop, but only the holder of the relay lease publishes
(`relay_lease`); the others stand by and take over when it goes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from opentelemetry import trace

from caseplatform import metrics
from caseplatform.aio import bounded
from caseplatform.envelope import CONTENT_TYPE, OutgoingEvent, SourcePosition, build_envelope
from caseplatform.identity import Actor, system_actor
from caseplatform.kafka.admin import ensure_topics
from caseplatform.kafka.security import kafka_client_options
from caseplatform.relay_lease import LeaseLost, RelayLease, acquire, give_up
from caseplatform.relay_state import RelayPosition, RelayStateStore
from caseplatform.store import ServiceApplication
from caseplatform.telemetry import context_from, current_carrier, tracer
from caseplatform.topology import topic_for

log = logging.getLogger(__name__)
T = TypeVar("T")

Translator = Callable[[Any], OutgoingEvent | None]
# Whether a domain event class can be published at all (False: its translation is always None).
# The relay then steps over such notifications without decoding them: most of a service's log
# can be internal (reporting's SLA bookkeeping, every service's owner index), and decoding a
# stored event (decrypt, decompress, JSON) only to drop it was most of a relay's work there.
Publishes = Callable[[type], bool]
BROKER_CALL_TIMEOUT_S = 30.0
# The position is written to the store at most this often (a commit per section was a tenth of
# a service's CPU at moderate load). After a crash the relay reads on from the last write and
# skips what each partition's tail on the broker shows was already sent (`_on_broker`).
POSITION_SAVE_INTERVAL_S = 1.0
# A relay that has neither finished a section nor found the log caught up for this long is stuck
# on the broker (a send waiting out its timeout, a reconnect): its lag gauge is then taken from the
# store, so `RelayLagHigh` sees what piles up meanwhile and not the figure of the last section.
STUCK_AFTER_S = 2.0
PROBE_WAIT_MS = 300  # a read of what the broker holds: an answer is usually there in milliseconds
CHECK_RETRY_MS = 3000  # the idle check, when no fetch answered at all: before calling the chain lost


def message_headers(envelope: Any, trace_carrier: dict[str, str]) -> list[tuple[str, bytes]]:
    """The Kafka headers of a published event: its trace, and what a reader may decide on without
    parsing the value (the event's type; its place in the partition's chain)."""
    headers = {
        **trace_carrier,
        "content-type": CONTENT_TYPE,
        "event-type": envelope.event_type,
        "notification-id": str(envelope.source.notification_id),
        "previous-notification-id": str(envelope.source.previous_notification_id),
    }
    return [(k, v.encode()) for k, v in headers.items()]


@functools.lru_cache(maxsize=65_536)
def partition_for(case_id: str, partitions: int) -> int:
    """Kafka's default keyed partitioner, computed here so the relay knows each chain (murmur2
    in pure Python, ~10 µs: remembered, as a case publishes many events)."""
    return (murmur2(case_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class PartitionTail:
    """What the broker holds at the start and end of one partition."""

    first_previous_id: int | None  # None: empty partition
    last_id: int
    last_offset: int
    start_offset: int = 0  # the log start offset: above 0 when the front was trimmed

    @property
    def starts_a_chain(self) -> bool:
        """An untrimmed partition must begin where a chain begins (previous id 0); a trimmed
        one begins wherever retention cut it."""
        return self.first_previous_id in (None, 0) or self.start_offset > 0


def broker_holds(heads: dict[int, int], tails: dict[int, PartitionTail]) -> bool:
    """Does the broker still hold what the relay recorded as published? Every partition we sent
    to still reaches our head there, and no partition begins mid-chain unless its front was
    trimmed (then it begins wherever retention cut it)."""
    reaches = all(
        (tail := tails.get(p)) is not None and tail.first_previous_id is not None and tail.last_id >= head
        for p, head in heads.items()
    )
    return reaches and all(t.starts_a_chain for t in tails.values())


class BrokerLost(Exception):
    """The broker no longer holds what the relay published to it."""


class Relay:
    def __init__(
        self,
        app: ServiceApplication,
        translate: Translator,
        *,
        bootstrap: str,
        partitions: int,
        section_size: int = 1000,
        poll_interval_s: float = 0.005,
        idle_poll_max_s: float = 0.25,
        idle_check_interval_s: float = 2.0,
        lease: RelayLease | None = None,
        publishes: Publishes | None = None,
    ) -> None:
        self.app = app
        self.service = app.service
        self.topic = topic_for(app.service)
        self._translate = translate
        self._publishes = publishes  # None: every notification is decoded and translated
        self._topic_published: dict[str, bool] = {}
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._section_size = section_size
        self._idle_poll_max_s = max(idle_poll_max_s, poll_interval_s)
        # Only a store other processes write needs reading again soon after activity; otherwise
        # this process's own commits wake the relay.
        self._poll_interval_s = poll_interval_s if app.store_is_shared else self._idle_poll_max_s
        self._idle_check_interval_s = idle_check_interval_s
        self._state_store = RelayStateStore(app)
        self._stored = RelayPosition()  # acknowledged by the broker
        self._saved = RelayPosition()  # as the store last recorded it
        self._saved_at = 0.0
        self._cursor = RelayPosition()
        self._last_offsets: dict[int, int] = {}
        # Per partition, the last notification id the broker held when the relay (re)started:
        # sent after the position was last saved, so not to be sent again.
        self._on_broker: dict[int, int] = {}
        self._producer: AIOKafkaProducer | None = None
        self._probe: AIOKafkaConsumer | None = None
        self._lease = lease  # None: this is the only relay of the store (tests, tools)
        self._lease_checked_at = 0.0
        self._publishing = False  # the lease held (or none needed) and the broker being worked
        self._progress_at = 0.0  # loop time of the last section published or caught-up read
        self.caught_up = asyncio.Event()
        # Committed events not yet published, as of the last read: the process's consumer waits
        # while it is high (`backlog_below`), so decisions already taken reach the broker before
        # more work is taken in (a midnight of breaches, then their timeline rows).
        self.backlog = 0
        self._backlog_changed = asyncio.Event()
        # Set (from whichever thread committed) when this process records events: the relay
        # sleeps on it when idle instead of polling the store every few milliseconds.
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The relay's reads and writes of its store run here (one at a time: the loop is
        # sequential), tracked so that stopping can wait for them.
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"relay-{self.service}")
        self._store_work: set[concurrent.futures.Future[Any]] = set()
        app.on_recorded(self._recorded)

    def _recorded(self, _recordings: object = None) -> None:
        """Called in the committing thread after every commit that recorded events."""
        loop = self._loop
        if loop is None or self._wake.is_set():
            return
        try:
            loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop closed: nobody to wake
            self._loop = None

    @property
    def position(self) -> int:
        """The recorded position: everything up to here reached a broker at least once."""
        return self._stored.position

    @property
    def broker_position(self) -> int:
        """How far the broker as it is now holds the log (lower than `position` while replaying)."""
        return self._cursor.position

    async def run(self) -> None:
        """Publish forever; on any broker trouble, back off, re-check the broker and carry on."""
        backoff = 0.2
        self._loop = asyncio.get_running_loop()
        stuck_watch = asyncio.create_task(self._show_lag_while_stuck(), name=f"relay-{self.service}-lag")
        try:
            while True:
                try:
                    if self._lease is not None:
                        self._publishing = False
                        await acquire(self._lease, self.service)
                    self._publishing = True
                    self._progress_at = self._loop.time()
                    # Every broker conversation is bounded: a half-dead connection to a broker
                    # that went away must not hang the relay (it was seen to, without these).
                    await bounded(self._start_clients(), BROKER_CALL_TIMEOUT_S)
                    await bounded(self._reconcile(), 2 * BROKER_CALL_TIMEOUT_S)
                    backoff = 0.2
                    await self._publish_forever()
                except asyncio.CancelledError:
                    # aiokafka cancels in-flight sends when a connection drops: that is broker
                    # trouble, not a request to stop — unless this task itself is being cancelled.
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
                    exc: BaseException = BrokerLost("a send was cancelled by the client")
                    log.warning("relay %s: %s; retrying in %.1fs", self.service, exc, backoff)
                    await self._stop_clients()
                    await self._export_lag_while_stuck()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                except Exception as exc:  # noqa: BLE001 - broker trouble of any kind: back off, re-check
                    log.warning("relay %s: %s: %s; retrying in %.1fs", self.service, type(exc).__name__, exc, backoff)
                    await self._stop_clients()
                    if isinstance(exc, LeaseLost):  # a standby's backlog is the holder's to report
                        self._publishing = False
                        metrics.RELAY_LEASE_HELD.labels(self.service).set(0)
                    else:
                        await self._export_lag_while_stuck()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            stuck_watch.cancel()
            self._publishing = False
            await self._stop_clients()
            if self._lease is not None:
                await give_up(self._lease, self.service)
            await self._store_work_done()

    async def _show_lag_while_stuck(self) -> None:
        """Beside `run`: while the relay makes no progress (see `STUCK_AFTER_S`), the lag gauge
        follows the store. A send to a broker that went away waits out its timeout first, and on
        a busy machine that was long enough for the backlog to go unseen."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(STUCK_AFTER_S / 2)
            if self._publishing and loop.time() - self._progress_at >= STUCK_AFTER_S:
                await self._export_lag_while_stuck()

    async def _export_lag_while_stuck(self) -> None:
        """While nothing can be published (the broker away, the lease elsewhere), the lag gauge
        follows what the store holds beyond what was last published, instead of keeping the
        figure of the last section sent: the backlog `RelayLagHigh` is there to show. The
        back-pressure on the consumer (`backlog`) is left as it was."""
        progress = self._progress_at
        try:
            latest = await self._in_thread(self.app.recorder.max_notification_id) or 0
            # Before the first start has loaded it, the position saved in the store.
            published = self._stored.position or (await self._in_thread(self._state_store.load)).position
        except Exception:  # noqa: BLE001 - the store is what fails: nothing to measure against
            log.debug("relay %s: lag not measured (store not answering)", self.service)
            return
        if self._progress_at == progress:  # not overtaken by a section sent meanwhile
            metrics.RELAY_LAG.labels(self.service).set(max(latest - published, 0))

    async def close(self) -> None:
        await self._stop_clients()
        if self._lease is not None:
            await give_up(self._lease, self.service)
        await self._store_work_done()
        self._threads.shutdown(wait=False)

    async def _in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args)` on a worker thread, remembered until it returns. Cancelling the awaiting
        task does not stop the thread: `close()` and a cancelled `run()` wait for such work, so
        whoever closes the store after them never pulls it from under a running query (a
        segfault in libsqlite3, seen in the bench)."""
        future = self._threads.submit(fn, *args, **kwargs)
        self._store_work.add(future)
        future.add_done_callback(self._store_work.discard)
        return await asyncio.wrap_future(future)

    async def _store_work_done(self) -> None:
        if self._store_work:
            await asyncio.to_thread(concurrent.futures.wait, list(self._store_work))

    async def _start_clients(self) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, acks="all", linger_ms=1, request_timeout_ms=10000, max_batch_size=65536,
                metadata_max_age_ms=2000, **kafka_client_options(self._bootstrap),
            )
            await self._producer.start()
        if self._probe is None:
            self._probe = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10,
                metadata_max_age_ms=2000, **kafka_client_options(self._bootstrap),
            )
            await self._probe.start()

    async def _stop_clients(self) -> None:
        for client in (self._producer, self._probe):
            if client is not None:
                try:
                    await bounded(client.stop(), 5)
                except Exception:
                    log.debug("relay client stop failed", exc_info=True)
        self._producer = self._probe = None

    async def _reconcile(self) -> None:
        """Decide where to resume: after our recorded position if the broker still holds our
        chain up to it, otherwise from the beginning of the log."""
        await ensure_topics(self._bootstrap, [self.topic], self._partitions)
        assert self._producer is not None
        # The configured partition count defines the chains (which case goes where) and must
        # never change for a topic version. A topic a client auto-created with more partitions
        # still works (the extra ones stay empty); one with fewer cannot carry the chains.
        available = len(await self._producer.partitions_for(self.topic))
        if available < self._partitions:
            raise BrokerLost(
                f"{self.topic} has {available} partitions, fewer than the {self._partitions} configured"
            )
        self._stored = self._saved = await self._in_thread(self._state_store.load)
        tails = await self._tails()
        self._last_offsets = {p: t.last_offset for p, t in tails.items() if t.first_previous_id is not None}
        if broker_holds(self._stored.heads, tails):
            self._cursor = RelayPosition(self._stored.position, dict(self._stored.heads))
            self._on_broker = {p: t.last_id for p, t in tails.items() if t.first_previous_id is not None}
        else:
            self._on_broker = {}
            log.warning("relay %s: broker lost published events; replaying from the store", self.service)
            metrics.RELAY_REPUBLISHES.labels(self.service).inc()
            self._cursor = RelayPosition()

    async def _tails(self) -> dict[int, PartitionTail]:
        assert self._probe is not None
        tps = [TopicPartition(self.topic, p) for p in range(self._partitions)]
        self._assign_probe(tps)
        starts = await self._probe.beginning_offsets(tps)
        tails: dict[int, PartitionTail] = {}
        for tp in tps:
            start = starts.get(tp, 0) or 0
            first = await self._read_from(tp, start)
            if first is None:
                tails[tp.partition] = PartitionTail(None, 0, -1, start)
                continue
            last = await self._last_record(tp, first)
            tails[tp.partition] = PartitionTail(
                _header_int(first, "previous-notification-id"),
                _header_int(last, "notification-id"),
                last.offset,
                start,
            )
        return tails

    def _assign_probe(self, tps: list[TopicPartition]) -> None:
        """Assign the probe paused: an assigned consumer fetches in the background without
        pause, which idle would be a fetch every few milliseconds and under load a second copy
        of everything published. Each read resumes its partition for just that read."""
        assert self._probe is not None
        self._probe.assign(tps)
        self._probe.pause(*tps)

    async def _probe_getmany(
        self, tp: TopicPartition, offset: int | None, max_records: int, timeout_ms: int = PROBE_WAIT_MS
    ) -> list[Any]:
        """Records of `tp` from `offset` (None: where the last read ended), up to `max_records`,
        or [] after a short wait."""
        assert self._probe is not None
        if offset is not None:
            self._probe.seek(tp, offset)
        self._probe.resume(tp)
        try:
            batch = await self._probe.getmany(tp, timeout_ms=timeout_ms, max_records=max_records)
        finally:
            self._probe.pause(tp)
        return batch.get(tp, [])

    async def _last_record(self, tp: TopicPartition, first: Any) -> Any:
        """The partition's last record. Reads near the high-water mark first; Tansu's offsets
        inside multi-record batches are not always where the mark says, so fall back to reading
        further back, and at worst the whole partition."""
        assert self._probe is not None
        high = self._probe.highwater(tp) or (first.offset + 1)
        for start in (high - 1, high - 1000, first.offset):
            offset: int | None = max(start, first.offset)
            last = None
            while True:
                records = await self._probe_getmany(tp, offset, 1000)
                if not records:
                    break
                last = records[-1]
                offset = None
            if last is not None:
                return last
        return first

    async def _read_at(self, tp: TopicPartition, offset: int, timeout_ms: int = PROBE_WAIT_MS) -> Any | None:
        record = await self._read_from(tp, offset, timeout_ms)
        return record if record is not None and record.offset == offset else None

    async def _read_from(self, tp: TopicPartition, offset: int, timeout_ms: int = PROBE_WAIT_MS) -> Any | None:
        """The first record at or after `offset` (compaction and aborted batches leave holes)."""
        records = await self._probe_getmany(tp, offset, 1, timeout_ms)
        return records[0] if records else None

    async def _publish_forever(self) -> None:
        """Publish what the log holds; when idle, sleep until this process records events or,
        at the latest, after a pause that doubles from `poll_interval_s` to `idle_poll_max_s`
        (for events another process recorded: replicas sharing a PostgreSQL store)."""
        loop = asyncio.get_running_loop()
        pause = self._poll_interval_s
        idle_since = loop.time()
        while True:
            self._wake.clear()  # before reading: a commit after this point wakes the next wait
            notifications = await self._in_thread(
                self.app.recorder.select_notifications,
                start=self._cursor.position,
                limit=self._section_size,
                inclusive_of_start=False,
            )
            if not notifications:
                self._progress_at = loop.time()
                self.caught_up.set()
                self._set_backlog(0)
                metrics.RELAY_LAG.labels(self.service).set(0)
                await self._save_position()
                if loop.time() - idle_since >= self._idle_check_interval_s:
                    idle_since = loop.time()
                    await self._check_lease()
                    await bounded(self._check_broker_still_holds_chain(), BROKER_CALL_TIMEOUT_S)
                if await _woken(self._wake, pause):
                    pause = self._poll_interval_s
                else:
                    pause = min(pause * 2, self._idle_poll_max_s)
                continue
            pause = self._poll_interval_s
            idle_since = loop.time()
            self.caught_up.clear()
            await self._check_lease()
            await self._publish_section(notifications)
            self._progress_at = loop.time()

    async def _check_lease(self) -> None:
        """At most once a second: losing the lease a moment late only repeats a few messages,
        which consumers drop."""
        now = asyncio.get_running_loop().time()
        if self._lease is not None and now - self._lease_checked_at >= 1.0:
            self._lease_checked_at = now
            try:
                await asyncio.to_thread(self._lease.check)
            except LeaseLost:
                self._stored = self._saved = RelayPosition()  # another replica may move on meanwhile
                raise

    async def _publish_section(self, notifications: list[Notification]) -> None:
        assert self._producer is not None
        batches = _SectionBatches(self._producer, self.topic)
        cursor = self._cursor
        for notification in notifications:
            if not self._may_publish(notification.topic):
                cursor.position = notification.id
                continue
            domain_event = self.app.mapper.to_domain_event(notification)
            outgoing = self._translate(domain_event)
            if outgoing is not None:
                partition = partition_for(outgoing.case_id, self._partitions)
                if notification.id > self._on_broker.get(partition, 0):
                    previous = cursor.heads.get(partition, 0)
                    message = self._message(notification, domain_event, outgoing, partition, previous)
                    await batches.add(partition, message)
                cursor.heads[partition] = notification.id
            cursor.position = notification.id
        # One wait for the section's acknowledgements, a batch each (a timeout per message cost
        # more than the send itself in a burst of thousands).
        sent = await batches.submit_all()
        acks = await bounded(asyncio.gather(*(b.future for b in sent)), BROKER_CALL_TIMEOUT_S) if sent else []
        published: Counter[str] = Counter()
        for batch, metadata in zip(sent, acks, strict=True):
            # A batch's records take consecutive offsets from the one acknowledged.
            if metadata.offset <= self._last_offsets.get(batch.partition, -1):
                raise BrokerLost(f"offset went back on partition {batch.partition}")
            self._last_offsets[batch.partition] = metadata.offset + len(batch.event_types) - 1
            published.update(batch.event_types)
        for event_type, count in published.items():
            metrics.EVENTS_PUBLISHED.labels(self.service, event_type).inc(count)
        if cursor.position > self._stored.position:
            self._stored = RelayPosition(cursor.position, dict(cursor.heads))
        await self._save_position()
        # A short section was everything the log held when read: no need to ask again.
        full = len(notifications) >= self._section_size
        latest = (await self._in_thread(self.app.recorder.max_notification_id) or 0) if full else cursor.position
        self._set_backlog(max(latest - cursor.position, 0))
        metrics.RELAY_LAG.labels(self.service).set(self.backlog)

    def _may_publish(self, topic: str) -> bool:
        known = self._topic_published.get(topic)
        if known is None:
            try:
                known = self._publishes is None or self._publishes(resolve_topic(topic))
            except Exception:  # noqa: BLE001 - a topic that does not resolve: decoding it says why
                known = True
            self._topic_published[topic] = known
        return known

    async def _save_position(self) -> None:
        """Record the acknowledged position, at most once per `POSITION_SAVE_INTERVAL_S`."""
        now = asyncio.get_running_loop().time()
        if self._stored.position > self._saved.position and now - self._saved_at >= POSITION_SAVE_INTERVAL_S:
            stored = self._stored
            await self._in_thread(self._state_store.save, stored)
            self._saved, self._saved_at = stored, now

    def _set_backlog(self, backlog: int) -> None:
        self.backlog = backlog
        self._backlog_changed.set()
        self._backlog_changed = asyncio.Event()

    async def backlog_below(self, limit: int, max_wait_s: float) -> None:
        """Return once the backlog is at most `limit`, or after `max_wait_s` whatever it is (a
        relay that cannot publish — the broker gone — must not stop the consumer for long)."""
        try:
            async with asyncio.timeout(max_wait_s):
                while self.backlog > limit:
                    await self._backlog_changed.wait()
        except TimeoutError:
            pass

    def _message(
        self, notification: Notification, domain_event: Any, outgoing: OutgoingEvent,
        partition: int, previous: int,
    ) -> _Message:
        meta = getattr(domain_event, "meta", None) or {}
        actor = Actor.from_dict(meta["actor"]) if "actor" in meta else system_actor(self.service)
        envelope = build_envelope(
            outgoing,
            aggregate_id=domain_event.originator_id,
            aggregate_version=domain_event.originator_version,
            recorded_at=domain_event.timestamp,
            actor=actor,
            source=SourcePosition(self.service, notification.id, partition, previous),
        )
        with tracer().start_as_current_span(
            f"publish {envelope.event_type}",
            context=context_from(meta.get("trace")),
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.destination.name": self.topic, "casework.notification_id": notification.id},
        ):
            return _Message(
                key=outgoing.case_id.encode(),
                value=envelope.SerializeToString(),
                headers=message_headers(envelope, current_carrier()),
                event_type=outgoing.payload.DESCRIPTOR.full_name,
            )

    async def _check_broker_still_holds_chain(self) -> None:
        """When idle, make sure the last message we published is still where we left it."""
        if not self._last_offsets:
            return
        partition, offset = max(self._last_offsets.items(), key=lambda kv: self._cursor.heads.get(kv[0], 0))
        tp = TopicPartition(self.topic, partition)
        self._assign_probe([tp])
        record = await self._read_at(tp, offset)
        if record is None:  # nothing in time may be a busy machine, not a broker that lost it:
            # ask once more, waiting longer, before treating the chain as lost (a false alarm
            # restarts the clients and takes the position back to the one last saved)
            record = await self._read_at(tp, offset, timeout_ms=CHECK_RETRY_MS)
        if record is None or _header_int(record, "notification-id") != self._cursor.heads.get(partition):
            raise BrokerLost(f"partition {partition} no longer holds offset {offset}")


@dataclass(frozen=True, slots=True)
class _Message:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event_type: str


@dataclass(slots=True)
class _SentBatch:
    partition: int
    event_types: list[str]
    future: asyncio.Future[Any]


class _SectionBatches:
    """A section's messages, built into one batch per partition and handed to the producer as
    each fills, in order. Handing the producer a message at a time cost a coroutine, a future
    and a callback per message, most of the relay's own time in a burst (ADR 0037)."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._open: dict[int, tuple[Any, list[str]]] = {}  # partition -> (BatchBuilder, event types)
        self._sent: list[_SentBatch] = []

    async def add(self, partition: int, message: _Message) -> None:
        current = self._open.get(partition)
        if current is not None and self._append(current[0], message):
            current[1].append(message.event_type)
            return
        if current is not None:
            await self._submit(partition)  # full: sent on, and a new batch started
        builder = self._producer.create_batch()
        self._append(builder, message)  # a batch always takes its first message, whatever its size
        self._open[partition] = (builder, [message.event_type])

    async def submit_all(self) -> list[_SentBatch]:
        for partition in list(self._open):
            await self._submit(partition)
        return self._sent

    @staticmethod
    def _append(builder: Any, message: _Message) -> bool:
        return builder.append(timestamp=None, key=message.key, value=message.value, headers=message.headers) is not None

    async def _submit(self, partition: int) -> None:
        builder, event_types = self._open.pop(partition)
        future = await self._producer.send_batch(builder, self._topic, partition=partition)
        self._sent.append(_SentBatch(partition, event_types, future))


async def _woken(event: asyncio.Event, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
        return True
    except TimeoutError:
        return False


def _header_int(record: Any, name: str) -> int:
    for key, value in record.headers or ():
        if key == name:
            return int(value)
    return -1
