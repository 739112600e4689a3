"""RebuildTimelines derives every timeline row again from the topics (ADR 0024), on a real Tansu
broker: the rebuilt table equals the live one, skips what the live policy skips, and a broker that
is not there is an error, not a silent empty table."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from caseplatform.devstack.broker import TansuBroker
from caseplatform.devstack.ports import free_port
from caseplatform.envelope import OutgoingEvent, SourcePosition, build_envelope, parse_envelope
from caseplatform.ids import stable_id
from caseplatform.kafka.admin import ensure_topics
from caseplatform.relay import message_headers
from caseplatform.settings import PlatformSettings
from caseplatform.store import Sql
from caseplatform.testing import postgres_or_skip, running_broker
from caseplatform.topology import topic_for
from casework.common.v1 import access_pb2
from casework.intake.v1 import events_pb2 as intake_events
from reporting.application import ReportingApplication
from reporting.timelines import rebuild
from reporting.timelines.entries import row_from_message
from reporting.timelines.rebuild import BrokerUnavailable, rebuild_from_topics
from reporting.timelines.table import TABLE

from .helpers import CHO, Feed
from .test_timeline import CASE, RECEIVED, a_case

pytestmark = pytest.mark.system


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    with running_broker(tmp_path) as tansu:
        yield tansu


class PublishingFeed(Feed):
    """Applies each event live, as the consumer would, and keeps it to put on its topic."""

    def __init__(self, app: ReportingApplication) -> None:
        super().__init__(app)
        self.sent: list[Any] = []

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        event = super().publish(*args, **kwargs)
        self.sent.append(event)
        return event


async def put_on_topics(broker: TansuBroker, events: list[Any], extra: list[tuple[str, bytes]] = ()) -> None:
    topics = sorted({topic_for(e.source_service) for e in events} | {t for t, _ in extra})
    await ensure_topics(broker.bootstrap, topics, 3)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for e in events:  # as a relay publishes them, headers and all
            await producer.send_and_wait(topic_for(e.source_service), e.envelope.SerializeToString(), key=e.case_id.encode(),
                                         headers=message_headers(e.envelope, {}))
        for topic, value in extra:
            await producer.send_and_wait(topic, value, key=b"x")
    finally:
        await producer.stop()


def audit_from_intake(feed: Feed, case_id: str) -> Any:
    """A read of the case at intake, as intake's read audit publishes it (ADR 0021)."""
    feed._last["intake"] += 1
    position = feed._last["intake"]
    envelope = build_envelope(
        OutgoingEvent(case_id=case_id, payload=access_pb2.CaseAccessed(case_id=case_id, service="intake", rpc="/intake.v1.IntakeService/GetCase"),
                      occurred_at=RECEIVED),
        aggregate_id=str(stable_id("test", "audit")), aggregate_version=1, recorded_at=RECEIVED,
        actor=CHO, source=SourcePosition("intake", position, 0, position - 1),
    )
    return parse_envelope(envelope.SerializeToString())


def rows_of(app: ReportingApplication) -> list[tuple[Any, ...]]:
    """The rows as read off the topics (the entry a live row also keeps is compared by `reads_of`)."""
    sql = Sql(app)
    return sorted(sql.query(f"SELECT event_id, case_id, occurred_at, recorded_at, service, notification_id, event_type, envelope FROM {sql.table(TABLE)}"))


def entries_of(app: ReportingApplication) -> list[bytes]:
    sql = Sql(app)
    return [bytes(e) for (e,) in sql.query(f"SELECT entry FROM {sql.table(TABLE)}")]


def reads_of(app: ReportingApplication) -> list[Any]:
    """What `GetCaseTimeline` answers for each case, and the dict view exports read: a rebuilt
    row's entry is derived when read."""
    cases = (CASE, str(stable_id("test", "case-2")))
    return [app.timelines.messages_for_case(case) for case in cases] + [app.timelines.for_case(case) for case in cases]


async def test_rebuilt_rows_equal_the_live_ones(tmp_path: Path, broker: TansuBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path / "live"))
    feed = PublishingFeed(app)
    a_case(feed)
    other = str(stable_id("test", "case-2"))
    feed.publish(other, intake_events.LegalAdviceRequested(case_id=other), RECEIVED)
    audit = audit_from_intake(feed, CASE)
    assert feed.inbox.apply("intake", 0, [audit]).processed == 1  # to the access log, not a timeline
    live, live_reads = rows_of(app), reads_of(app)
    assert len(live) == 5 and sum(map(len, live_reads)) == 10
    await put_on_topics(broker, [*feed.sent, audit], extra=[(topic_for("intake"), b"\x08\x96 not an envelope")])

    # A fresh table (a new replica's, or one whose rows were lost) and a damaged one both come back.
    fresh = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path / "fresh"))
    seen: list[tuple[int, int, int]] = []
    parsed: list[bytes] = []
    monkeypatch.setattr(rebuild, "row_from_message", lambda value: parsed.append(value) or row_from_message(value))
    written = await rebuild_from_topics(fresh.timelines, broker.bootstrap, lambda *p: seen.append(p))
    assert written == 5 and rows_of(fresh) == live and reads_of(fresh) == live_reads
    # The live consumer keeps each entry with its row; a rebuild stages envelopes only (ADR 0042).
    assert all(entries_of(app)) and not any(entries_of(fresh))
    assert seen[-1][0] == seen[-1][1] == len(feed.sent) + 2  # every message read, the poison and the audit too
    assert len(parsed) == len(feed.sent) + 1  # the audit, labelled so by its relay, is not even parsed

    sql = Sql(app)
    sql.execute(f"DELETE FROM {sql.table(TABLE)} WHERE case_id = ?", [other])
    sql.execute(f"UPDATE {sql.table(TABLE)} SET envelope = ? WHERE case_id = ?", [b"", CASE])
    assert await rebuild_from_topics(app.timelines, broker.bootstrap) == 5
    assert rows_of(app) == live and reads_of(app) == live_reads


async def test_no_broker_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild, "STALL_S", 2.0)
    app = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))
    with pytest.raises(BrokerUnavailable):
        await rebuild_from_topics(app.timelines, f"127.0.0.1:{free_port()}")


def many_cases(feed: PublishingFeed, count: int) -> None:
    for i in range(count):
        case = str(stable_id("test", f"many-{i}"))
        feed.publish(case, intake_events.LegalAdviceRequested(case_id=case), RECEIVED)


async def put_batched(broker: TansuBroker, events: list[Any], twice: int = 0) -> None:
    """As the relay publishes under load: many records per batch (Tansu's ListOffsets then
    under-reports the end); the first `twice` events are published a second time (a replay)."""
    topics = sorted({topic_for(e.source_service) for e in events})
    await ensure_topics(broker.bootstrap, topics, 3)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=50)
    await producer.start()
    try:
        sent = [await producer.send(topic_for(e.source_service), e.envelope.SerializeToString(), key=e.case_id.encode())
                for e in [*events, *events[:twice]]]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def staging_tables(app: ReportingApplication) -> list[str]:
    sql = Sql(app)
    if sql.is_sqlite:
        return [row[0] for row in sql.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?", ["%rebuild%"])]
    return [row[0] for row in sql.query("SELECT table_name FROM information_schema.tables WHERE table_name LIKE ?", ["%rebuild%"])]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformSettings]:
    """Reporting's store on SQLite, or in a fresh PostgreSQL database (the swap is SQL of each dialect)."""
    if request.param == "sqlite":
        yield PlatformSettings(casework_data_dir=tmp_path / "live")
        return
    server = postgres_or_skip()
    dsn = server.create_database("casework_reporting")
    try:
        yield PlatformSettings(casework_data_dir=tmp_path / "live", casework_persistence="postgres", casework_postgres_dsn=dsn)
    finally:
        server.drop_database(dsn)


@pytest.mark.parametrize("workers", [1, 2])
async def test_every_event_of_busy_partitions_once_in_one_or_more_processes(
    store: PlatformSettings, broker: TansuBroker, workers: int
) -> None:
    """Multi-record batches (the relay under load) and an event published twice: every event is
    read to the partition's true end and has exactly one row, whether one process derives the rows
    or several share the partitions; the live rows the topics do not hold are kept."""
    app = ReportingApplication(store)
    feed = PublishingFeed(app)
    many_cases(feed, 300)
    await put_batched(broker, feed.sent, twice=5)
    live = rows_of(app)
    written_later = feed.envelope(CASE, intake_events.LegalAdviceRequested(case_id=CASE), RECEIVED)  # not on the topics yet
    assert feed.inbox.apply("intake", 0, [written_later]).processed == 1

    seen: list[tuple[int, int, int]] = []
    written = await rebuild_from_topics(app.timelines, broker.bootstrap, lambda *p: seen.append(p), workers=workers)
    assert written == 305 and seen[-1] == (305, 305, 305)
    assert app.timelines.count() == 301 and set(live) < set(rows_of(app))
    assert app.timelines.has_case(CASE) and staging_tables(app) == []
    app.close()


async def test_a_rebuild_cut_short_leaves_the_table_as_it_was(store: PlatformSettings, broker: TansuBroker) -> None:
    app = ReportingApplication(store)
    feed = PublishingFeed(app)
    many_cases(feed, 50)
    await put_batched(broker, feed.sent)
    before = rows_of(app)
    Sql(app).execute(f"DELETE FROM {Sql(app).table(TABLE)} WHERE case_id = ?", [feed.sent[0].case_id])

    def interrupted(*_: int) -> None:
        raise RuntimeError("operator pressed ^C")

    with pytest.raises(RuntimeError, match="operator"):
        await rebuild_from_topics(app.timelines, broker.bootstrap, interrupted)
    assert len(rows_of(app)) == len(before) - 1 and staging_tables(app) == []
    app.close()
