"""A service's dead letters: read off its dead-letter topic, described, and replayed (ADR 0039).

The consumer parks what it cannot read or apply on `<service>.deadletter.v1` and steps over it,
so one bad message does not stop a partition. This is the way back for what it stepped over
once the defect is fixed: the dead letter is read from the topic, its event parsed by this
build, and applied through the service's own inbox and policy — inside the service, because
what a policy does also lands in the process's memory (reporting's armed SLA clocks, the
case-owner index) through the store's listeners. Exactly once: the inbox recorded the step
over (SET_ASIDE) in the step's own commit, and the replay moves that record to REPLAYED in the
commit of what it applied (`Inbox.replay`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from caseplatform import metrics
from caseplatform.envelope import IncomingEvent, UnreadableMessage, parse_envelope
from caseplatform.errors import InvalidArgument, NotFound, PreconditionFailed, Unavailable
from caseplatform.identity import Actor, require_actor
from caseplatform.inbox import REPLAYED, SET_ASIDE, Held, Inbox, NotSetAside, PolicyFailed
from caseplatform.kafka.reading import (
    BROKER_TROUBLE,
    PartitionEnds,
    close_reader,
    start_reader,
    text_headers,
)
from caseplatform.kafka.security import kafka_client_options
from caseplatform.store import STORE_TROUBLE
from caseplatform.topology import dead_letter_topic_for, topic_for
from casework.common.v1 import envelope_pb2, ops_pb2

log = logging.getLogger(__name__)

STALL_S = 10.0  # a read that gets nothing for this long, with the partition not read to its end
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
_STATES = {None: ops_pb2.DEAD_LETTER_STATE_NOT_SET_ASIDE, SET_ASIDE: ops_pb2.DEAD_LETTER_STATE_PENDING,
           REPLAYED: ops_pb2.DEAD_LETTER_STATE_REPLAYED}


@dataclass(frozen=True)
class Letter:
    """One message on the dead-letter topic, as read."""

    partition: int
    offset: int
    timestamp_ms: int
    headers: dict[str, str]
    value: bytes

    @property
    def key(self) -> tuple[int, int, int]:
        """Oldest first: by when it was parked, then by place."""
        return self.timestamp_ms, self.partition, self.offset

    @classmethod
    def of(cls, record: Any) -> Letter:
        return cls(record.partition, record.offset, record.timestamp or 0, text_headers(record), record.value or b"")


class DeadLetterShelf:
    """Reads a service's dead-letter topic, with a short-lived client per call (operations
    calls are rare; nothing stays connected for them)."""

    def __init__(self, service: str, bootstrap: str) -> None:
        self.topic = dead_letter_topic_for(service)
        self._bootstrap = bootstrap

    async def all(self) -> list[Letter]:
        async with self._consumer() as consumer:
            partitions = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            if not partitions:
                return []
            consumer.assign(partitions)
            starts = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, starts[tp])
            return await _read_to_end(consumer, partitions, await consumer.end_offsets(partitions))

    async def one(self, partition: int, offset: int) -> Letter:
        async with self._consumer() as consumer:
            known = sorted(consumer.partitions_for_topic(self.topic) or ())
            if partition not in known:
                raise InvalidArgument.one("partition", f"{self.topic} has partitions {known or 'none yet'}, not {partition}")
            tp = TopicPartition(self.topic, partition)
            consumer.assign([tp])
            start = (await consumer.beginning_offsets([tp]))[tp]
            if offset < start:
                raise NotFound("dead letter", f"{partition}@{offset} (no longer kept: the topic starts at {start})")
            consumer.seek(tp, offset)
            for letter in await _read_to_end(consumer, [tp], await consumer.end_offsets([tp]), stop_after=offset):
                if letter.offset == offset:
                    return letter
            raise NotFound("dead letter", f"{partition}@{offset}")

    def _consumer(self) -> _Connected:
        return _Connected(self._bootstrap, self.topic)


class _Connected:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100,
            auto_offset_reset="earliest", **kafka_client_options(bootstrap),
        )
        self._topic = topic

    async def __aenter__(self) -> AIOKafkaConsumer:
        try:
            await start_reader(self._consumer, STALL_S, with_topics=True)  # the topic's partitions, known
        except BROKER_TROUBLE as exc:
            raise Unavailable(f"cannot reach the broker to read {self._topic}: {type(exc).__name__}") from exc
        return self._consumer

    async def __aexit__(self, *_: object) -> None:
        await close_reader(self._consumer)


async def _read_to_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], listed_ends: dict,
                       stop_after: int | None = None) -> list[Letter]:
    """What the assigned partitions hold from their positions to where they end (Tansu's listed
    end is only a lower bound: `PartitionEnds`); or, with `stop_after`, up to that offset."""
    ends = PartitionEnds(consumer, listed_ends)
    remaining, letters = set(partitions), []
    last_read = time.monotonic()
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=1000)
        ends.learn()
        for records in batch.values():
            letters += [Letter.of(r) for r in records]
        for tp in list(remaining):
            position = await consumer.position(tp)
            if ends.reached(tp, position) or (stop_after is not None and position > stop_after):
                remaining.discard(tp)
        if batch:
            last_read = time.monotonic()
        elif remaining and time.monotonic() - last_read > STALL_S:
            raise Unavailable(f"reading {partitions[0].topic}: nothing for {STALL_S:.0f}s before its end")
    return sorted(letters, key=lambda letter: letter.key)


PENDING_REFRESH_S = 60.0


async def count_pending(service: str, inbox: Inbox) -> None:
    """Keep `casework_dead_letters_pending{service}` counted from the store, once a minute (so
    every replica of a shared store says the same, whichever stepped over or replayed; not at
    each scrape, which would take a store connection in the scraper's thread every time)."""
    while True:
        await refresh_pending(service, inbox)
        await asyncio.sleep(PENDING_REFRESH_S)


async def refresh_pending(service: str, inbox: Inbox) -> None:
    try:
        metrics.DEAD_LETTERS_PENDING.labels(service).set(await asyncio.to_thread(inbox.pending_dead_letters))
    except STORE_TROUBLE as exc:  # the figure stays as it was; the store's own alerts say why
        log.info("%s: pending dead letters not counted: %s", service, type(exc).__name__)


class DeadLetters:
    """ListDeadLetters and ReplayDeadLetter for one service: its shelf and its inbox."""

    def __init__(self, service: str, sources: tuple[str, ...], shelf: DeadLetterShelf, inbox: Inbox | None) -> None:
        self._service = service
        self._topics = {topic_for(source): source for source in sources}
        self._shelf = shelf
        self._inbox = inbox

    async def page(self, pending_only: bool, page_size: int, page_token: str) -> ops_pb2.ListDeadLettersResponse:
        if page_size > MAX_PAGE_SIZE:
            raise InvalidArgument.one("page_size", f"at most {MAX_PAGE_SIZE}; follow next_page_token for more")
        after, size = _token_key(page_token), page_size or PAGE_SIZE
        letters = [letter for letter in await self._shelf.all() if after is None or letter.key > after]
        described = await asyncio.to_thread(self._describe_until, letters, pending_only, size + 1)  # one more: a next page?
        response = ops_pb2.ListDeadLettersResponse(dead_letters=[d for _, d in described[:size]])
        if len(described) > size:
            last = described[size - 1][0]
            response.next_page_token = ".".join(str(part) for part in last.key)
        return response

    def _describe_until(self, letters: list[Letter], pending_only: bool, wanted: int) -> list[tuple[Letter, ops_pb2.DeadLetter]]:
        found = []
        for letter in letters:
            described = self.describe(letter)
            if pending_only and described.state != ops_pb2.DEAD_LETTER_STATE_PENDING:
                continue
            found.append((letter, described))
            if len(found) == wanted:
                break
        return found

    async def replay(self, partition: int, offset: int) -> ops_pb2.ReplayDeadLetterResponse:
        requested_by = require_actor()  # recorded with the replay (opaque ids only)
        letter = await self._shelf.one(partition, offset)
        response = await asyncio.to_thread(self._replay, letter, requested_by)
        if self._inbox is not None:
            await refresh_pending(self._service, self._inbox)  # the operator sees it go down at once
        return response

    def _replay(self, letter: Letter, requested_by: Actor) -> ops_pb2.ReplayDeadLetterResponse:
        where = f"dead letter {letter.partition}@{letter.offset}"
        event, source_partition = self._event(letter)
        if event is None or self._inbox is None:
            raise PreconditionFailed(f"{where} is not an event {self._service} reads: nothing to replay")
        try:
            applied = self._inbox.replay(source_partition, event, requested_by)
        except NotSetAside:
            raise PreconditionFailed(
                f"{where}: {self._service} has no record of stepping over this event (it was applied after all, "
                "or has not been read again yet); not replayed, as it would apply twice") from None
        except Held as held:
            raise PreconditionFailed(f"{where}: this build does not understand it yet ({held.reason}); nothing recorded") from None
        except PolicyFailed as failed:
            raise PreconditionFailed(f"{where}: the policy still fails on it ({failed.reason}); nothing recorded") from None
        outcome = ops_pb2.REPLAY_OUTCOME_REPLAYED if applied else ops_pb2.REPLAY_OUTCOME_ALREADY_REPLAYED
        log.info("%s: %s %s at the request of %s", self._service, where,
                 "replayed" if applied else "already replayed",
                 f"{requested_by.agency}/{requested_by.role}/{requested_by.user}")
        return ops_pb2.ReplayDeadLetterResponse(outcome=outcome, dead_letter=self.describe(letter))

    def describe(self, letter: Letter) -> ops_pb2.DeadLetter:
        headers = letter.headers
        described = ops_pb2.DeadLetter(
            partition=letter.partition, offset=letter.offset, reason=headers.get("dead-letter-reason", ""),
            original_topic=headers.get("original-topic", ""), original_partition=_int(headers.get("original-partition")),
        )
        described.dead_lettered_at.FromMilliseconds(letter.timestamp_ms)
        event, source_partition = self._event(letter)
        if event is None:
            described.state = ops_pb2.DEAD_LETTER_STATE_UNREADABLE
            return described
        envelope = event.envelope
        described.event_type, described.event_id, described.case_id = envelope.event_type, envelope.event_id, envelope.case_id
        described.source_service, described.source_notification_id = event.source_service, event.notification_id
        assert self._inbox is not None
        described.state = _STATES[self._inbox.set_aside_state(source_partition, event)]
        if described.state == ops_pb2.DEAD_LETTER_STATE_REPLAYED and (
                record := self._inbox.replay_record(source_partition, event)) is not None:
            described.replayed_by.CopyFrom(envelope_pb2.Actor(agency=record.agency, role=record.role, user=record.user))
            described.replayed_at.FromDatetime(record.created_on)
        return described

    def _event(self, letter: Letter) -> tuple[IncomingEvent | None, int]:
        """The event a dead letter holds, if it is an envelope from a source this service reads,
        read from that source's topic; and the partition it was read from."""
        source = self._topics.get(letter.headers.get("original-topic", ""))
        try:
            event = parse_envelope(letter.value, letter.headers)
        except UnreadableMessage:
            return None, 0
        if source is None or event.source_service != source or self._inbox is None:
            return None, 0
        return event, _int(letter.headers.get("original-partition"))


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _token_key(token: str) -> tuple[int, int, int] | None:
    if not token:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise InvalidArgument.one("page_token", "not a token ListDeadLetters gave: pass its next_page_token as it is")
    return int(parts[0]), int(parts[1]), int(parts[2])
