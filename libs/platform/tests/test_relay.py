"""The outbox relay against a real Tansu broker: in order, resumable, and healing a broker
that lost what it was sent (Tansu keeps messages in memory only)."""

from __future__ import annotations

import asyncio
from collections import Counter as Counter_
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from caseplatform.devstack.broker import TansuBroker
from caseplatform.envelope import OutgoingEvent, parse_envelope
from caseplatform.inbox import Inbox
from caseplatform.kafka.admin import ensure_topics
from caseplatform.kafka.reading import read_topics
from caseplatform.relay import Relay, partition_for
from caseplatform.relay_state import RelayStateStore
from caseplatform.settings import PlatformSettings
from caseplatform.testing import running_broker
from casework.intake.v1 import events_pb2

from .fakes import ACTOR, Counter, CounterApp

pytestmark = pytest.mark.system

PARTITIONS = 3


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    with running_broker(tmp_path) as tansu:
        yield tansu


def to_contract(domain_event: Any) -> OutgoingEvent | None:
    if isinstance(domain_event, Counter.Opened):
        payload = events_pb2.DisclosureReceived(case_id=domain_event.case_id)
        return OutgoingEvent(domain_event.case_id, payload, occurred_at=domain_event.timestamp)
    return None  # Seen events stay internal: the relay must step over them


def open_cases(app: CounterApp, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    for case_id in ids:
        counter = Counter(case_id=case_id, meta=app.meta(ACTOR))
        counter.see("internal", meta=app.meta(ACTOR))
        app.save(counter)
    return ids


async def read_topic(broker: TansuBroker, topic: str = "source.events.v1", settle_s: float = 0.5) -> list[Any]:
    return await read_topics(broker.bootstrap, [topic], settle_s=settle_s)


class RunningRelay:
    def __init__(self, app: CounterApp, broker: TansuBroker) -> None:
        self.relay = Relay(app, to_contract, bootstrap=broker.bootstrap, partitions=PARTITIONS,
                           section_size=50, idle_check_interval_s=0.2)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Relay:
        self.task = asyncio.create_task(self.relay.run())
        return self.relay

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()  # like a kill: no goodbye, position as last saved
        await asyncio.gather(self.task, return_exceptions=True)


async def until_published(relay: Relay, app: CounterApp, timeout: float = 20) -> None:
    async def wait() -> None:
        while not relay.caught_up.is_set() or relay.broker_position < (app.recorder.max_notification_id() or 0):
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


@pytest.fixture
def app(settings: PlatformSettings) -> CounterApp:
    return CounterApp("source", settings)


def chains_are_whole(records: list[Any]) -> None:
    """On every partition, each message names the one before it (first names 0)."""
    by_partition: dict[int, list[Any]] = {}
    for r in records:
        by_partition.setdefault(r.partition, []).append(parse_envelope(r.value))
    for partition, events in by_partition.items():
        previous = 0
        for event in events:
            assert event.previous_notification_id == previous, f"partition {partition} broken"
            previous = event.notification_id


async def test_publishes_each_event_once_in_order_keyed_by_case(app: CounterApp, broker: TansuBroker) -> None:
    cases = open_cases(app, "a", 40)
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
    records = await read_topic(broker)
    events = [parse_envelope(r.value) for r in records]
    assert sorted(e.case_id for e in events) == sorted(cases)
    for record, event in zip(records, events, strict=True):
        assert record.key == event.case_id.encode()
        assert record.partition == partition_for(event.case_id, PARTITIONS)
        assert event.actor.role == "CHO"
        assert dict(record.headers)["event-type"] == b"intake.v1.DisclosureReceived"
    chains_are_whole(records)


async def test_a_section_larger_than_a_batch_goes_out_in_order_and_its_last_offsets_are_known(
    app: CounterApp, broker: TansuBroker
) -> None:
    """A section is sent as batches, several to a partition when they fill (ADR 0037): the
    messages keep their order and the relay knows the offset of each partition's last one, which
    its idle check reads back (a wrong offset would look like a broker that lost the chain)."""
    cases = open_cases(app, "big", 400)  # 800 notifications: one section
    relay = Relay(app, to_contract, bootstrap=broker.bootstrap, partitions=PARTITIONS, section_size=1000,
                  idle_check_interval_s=60)
    await relay._start_clients()
    try:
        await relay._reconcile()
        await relay._publish_section(app.recorder.select_notifications(1, 1000))
        records = await read_topic(broker)
        await relay._check_broker_still_holds_chain()  # raises BrokerLost if an offset were wrong
    finally:
        await relay.close()
    assert sorted(parse_envelope(r.value).case_id for r in records) == sorted(cases)
    chains_are_whole(records)
    last = {r.partition: r.offset for r in records}
    assert relay._last_offsets == last
    assert min(Counter_(r.partition for r in records).values()) > 100  # several batches a partition


async def test_steps_over_what_it_never_publishes_without_decoding_it(
    app: CounterApp, broker: TansuBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told what the translation can publish, the relay decodes nothing else (half of this
    log is `Counter.Seen`), publishes the same messages as without being told, and passes
    over the internal events to the end of the log."""
    cases = open_cases(app, "a", 20)
    decoded: list[str] = []
    to_domain_event = app.mapper.to_domain_event

    def counting(notification: Any) -> Any:
        decoded.append(notification.topic)
        return to_domain_event(notification)

    monkeypatch.setattr(app.mapper, "to_domain_event", counting)
    relay = Relay(app, to_contract, bootstrap=broker.bootstrap, partitions=PARTITIONS, section_size=7,
                  publishes=lambda event_class: issubclass(event_class, Counter.Opened))
    task = asyncio.create_task(relay.run())
    try:
        await until_published(relay, app)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    records = await read_topic(broker)
    assert sorted(parse_envelope(r.value).case_id for r in records) == sorted(cases)
    chains_are_whole(records)
    assert relay.position == app.recorder.max_notification_id() == 2 * len(cases)
    assert decoded and all(topic.endswith("Counter.Opened") for topic in decoded), set(decoded)


async def test_resumes_after_a_crash_without_skipping_or_starting_over(app: CounterApp, broker: TansuBroker) -> None:
    first = open_cases(app, "before", 30)
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
    second = open_cases(app, "after", 30)  # written while no relay runs: nothing lost
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
    case_ids = [parse_envelope(r.value).case_id for r in await read_topic(broker)]
    assert sorted(case_ids) == sorted(first + second)  # each exactly once: resumed, not replayed


async def test_killed_between_position_saves_it_sends_nothing_twice(app: CounterApp, broker: TansuBroker) -> None:
    # Sections of 10 (each case is two events, one published): several sections, and only the
    # first is saved within the save interval. The restarted relay reads on from that save and
    # skips what the broker's partition tails show was already sent.
    first = open_cases(app, "before", 30)
    relay = Relay(app, to_contract, bootstrap=broker.bootstrap, partitions=PARTITIONS, section_size=10)
    task = asyncio.create_task(relay.run())
    await until_published(relay, app)
    task.cancel()  # like a kill: no goodbye
    await asyncio.gather(task, return_exceptions=True)
    saved = RelayStateStore(app).load().position
    assert 0 < saved < relay.position, "the kill should come between two saves of the position"
    second = open_cases(app, "after", 10)
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
    records = await read_topic(broker)
    assert sorted(parse_envelope(r.value).case_id for r in records) == sorted(first + second)
    chains_are_whole(records)


async def test_a_fresh_broker_gets_everything_again_from_the_store(app: CounterApp, broker: TansuBroker) -> None:
    cases = open_cases(app, "a", 25)
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
    broker.stop()
    broker.start()  # memory storage: an empty broker
    broker.wait_ready()
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
        await asyncio.sleep(0.5)
    records = await read_topic(broker)
    assert sorted(parse_envelope(r.value).case_id for r in records) == sorted(cases)
    chains_are_whole(records)


async def test_broker_lost_while_running_is_healed_and_a_consumer_applies_all_once(
    app: CounterApp, broker: TansuBroker, settings: PlatformSettings
) -> None:
    first = open_cases(app, "a", 20)
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
        broker.stop()
        second = open_cases(app, "b", 20)  # accepted and stored while the broker is down
        broker.start()
        broker.wait_ready()
        third = open_cases(app, "c", 20)
        await until_published(relay, app, timeout=30)
        await asyncio.sleep(1.0)
    records = await read_topic(broker)
    published = {parse_envelope(r.value).case_id for r in records}
    assert published == set(first + second + third)

    # A consumer that starts from nothing reads the fresh broker and applies each case once.
    downstream = CounterApp("downstream", settings)
    inbox = Inbox(downstream, downstream.policy)
    by_partition: dict[int, list[Any]] = {}
    for r in records:
        by_partition.setdefault(r.partition, []).append(parse_envelope(r.value))
    for partition, events in by_partition.items():
        inbox.apply("source", partition, events)
    counters = [downstream.repository.get(Counter.create_id(c)) for c in first + second + third]
    assert all(len(c.seen) == 1 for c in counters)


async def test_a_topic_created_with_more_partitions_keeps_the_configured_chains(
    app: CounterApp, broker: TansuBroker
) -> None:
    # A client may auto-create the topic on a fresh broker with the broker's default count:
    # which partition a case goes to must not change with it.
    await ensure_topics(broker.bootstrap, ["source.events.v1"], PARTITIONS + 2)
    cases = open_cases(app, "a", 30)
    async with RunningRelay(app, broker) as relay:
        await until_published(relay, app)
    records = await read_topic(broker)
    assert sorted(parse_envelope(r.value).case_id for r in records) == sorted(cases)
    assert {r.partition for r in records} <= set(range(PARTITIONS))
    chains_are_whole(records)


async def test_a_topic_with_too_few_partitions_gets_nothing(app: CounterApp, broker: TansuBroker) -> None:
    await ensure_topics(broker.bootstrap, ["source.events.v1"], 1)
    open_cases(app, "a", 5)
    async with RunningRelay(app, broker) as relay:
        await asyncio.sleep(2)
        assert relay.position == 0  # it waits, loudly, rather than scatter cases over other chains
    assert await read_topic(broker) == []


async def test_a_consumer_waits_for_the_relay_backlog_to_fall_but_never_for_long(
    app: CounterApp, broker: TansuBroker
) -> None:
    """`backlog_below`: what the service's consumer awaits before each batch, so that decisions
    already committed reach the broker before more work is taken in."""
    open_cases(app, "backlog", 300)
    async with RunningRelay(app, broker) as relay:  # sections of 50
        while relay.backlog == 0:  # the first section read: the rest is the backlog
            await asyncio.sleep(0.001)
        assert relay.backlog > 100
        await asyncio.wait_for(relay.backlog_below(100, max_wait_s=30), 20)
        assert relay.backlog <= 100 and relay.broker_position >= 200
        await until_published(relay, app)
        assert relay.backlog == 0
    # A relay that cannot publish (the broker gone, a relay stopped) holds nobody up for long.
    stalled = RunningRelay(app, broker).relay
    stalled.backlog = 10_000
    started = asyncio.get_running_loop().time()
    await stalled.backlog_below(100, max_wait_s=0.2)
    assert 0.2 <= asyncio.get_running_loop().time() - started < 2


def _awaiting(coro: Any) -> list[str]:
    """Where a coroutine is, down the chain of what each frame awaits."""
    chain = []
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        chain.append(f"{coro.cr_code.co_name}:{coro.cr_frame.f_lineno}")
        coro = coro.cr_await
    return chain


def _relay_lag(service: str) -> float | None:
    return REGISTRY.get_sample_value("casework_relay_lag_events", {"service": service})


async def test_the_lag_gauge_follows_the_store_while_the_broker_is_away(app: CounterApp, broker: TansuBroker) -> None:
    """`RelayLagHigh` must see what piles up while nothing can be sent, not the figure of the
    last section that went out."""
    open_cases(app, "a", 5)
    running = RunningRelay(app, broker)
    async with running as relay:
        await until_published(relay, app)
        assert _relay_lag("source") == 0
        broker.stop()
        open_cases(app, "b", 20)  # accepted and stored while the broker is down: 40 notifications
        stored = app.recorder.max_notification_id()

        async def backlog_shown() -> None:
            while _relay_lag("source") != 40:
                await asyncio.sleep(0.1)

        try:
            await asyncio.wait_for(backlog_shown(), 30)
        except TimeoutError:  # say where the relay is, for a failure seen once in CI and not since
            assert running.task is not None
            where = " -> ".join(_awaiting(running.task.get_coro()))
            pytest.fail(f"lag gauge {_relay_lag('source')}, stored {stored}, published {relay.position}, "
                        f"relay at {where}", pytrace=False)
        assert relay.position == stored - 40  # what reached the broker
        broker.start()
        broker.wait_ready()
        await until_published(relay, app, timeout=30)
        assert _relay_lag("source") == 0
