"""After a rebuild, the rows it staged have their entries derived and stored once, in the
background (ADR 0042): reads then answer from stored entries as for live rows, and answer the
same as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caseplatform.devstack.broker import TansuBroker
from caseplatform.ids import stable_id
from caseplatform.settings import PlatformSettings
from caseplatform.store import Sql
from caseplatform.testing import running_broker
from casework.intake.v1 import events_pb2 as intake_events
from reporting.application import ReportingApplication
from reporting.timelines import table as timeline_table
from reporting.timelines.entries import Row, ns_of
from reporting.timelines.fill import EntryFill
from reporting.timelines.rebuild import rebuild_from_topics
from reporting.timelines.table import COLUMNS, TABLE, FillPosition

from .test_timeline import CASE, RECEIVED, a_case
from .test_timeline_rebuild import PublishingFeed, many_cases, put_batched, store  # noqa: F401 - fixture

pytestmark = pytest.mark.system


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    with running_broker(tmp_path) as tansu:
        yield tansu


def entries_by_event(app: ReportingApplication) -> dict[str, bytes]:
    sql = Sql(app)
    return {str(i): bytes(e) for i, e in sql.query(f"SELECT event_id, entry FROM {sql.table(TABLE)}")}


def reads(app: ReportingApplication, cases: list[str]) -> list[Any]:
    return [app.timelines.messages_for_case(c) for c in cases] + [app.timelines.for_case(c) for c in cases]


async def test_a_rebuilt_tables_entries_are_filled_in_once_as_live_ones_are(
    store: PlatformSettings, broker: TansuBroker  # noqa: F811 - the fixture
) -> None:
    app = ReportingApplication(store)
    feed = PublishingFeed(app)
    a_case(feed)
    many_cases(feed, 40)
    await put_batched(broker, feed.sent)
    live = entries_by_event(app)
    cases = sorted({e.case_id for e in feed.sent})
    live_reads = reads(app, cases)
    assert all(live.values()) and not app.timelines.unfilled_mark()
    assert await EntryFill(app.timelines, rest=0).fill() == 0  # nothing to do: no pass over the table

    assert await rebuild_from_topics(app.timelines, broker.bootstrap) == len(live)
    assert app.timelines.rows_to_fill() == len(live) and app.timelines.unfilled_mark()
    assert reads(app, cases) == live_reads  # derived when read meanwhile

    fill = EntryFill(app.timelines, rest=0)
    assert await fill.fill() == len(live)
    assert entries_by_event(app) == live  # the very entries the live consumer stored
    assert app.timelines.rows_to_fill() == 0 and not app.timelines.unfilled_mark()
    assert reads(app, cases) == live_reads
    assert await fill.fill() == 0
    app.close()


async def test_rows_moved_while_a_section_is_derived_get_their_own_entries(
    store: PlatformSettings, monkeypatch: pytest.MonkeyPatch  # noqa: F811 - the fixture
) -> None:
    """A swap may land between a section's read and its write: the same events, stored at other
    places. Each is still written with its own entry (on SQLite the pass goes by rowid)."""
    app = ReportingApplication(store)
    feed = PublishingFeed(app)
    many_cases(feed, 8)
    live = entries_by_event(app)
    sql = Sql(app)
    table = sql.table(TABLE)
    sql.execute(f"UPDATE {table} SET entry = ?", [b""])
    app.timelines.mark_unfilled()
    derive, moved = timeline_table.entry_bytes, []

    def derive_while_a_swap_lands(*args: Any) -> Any:
        if not moved:  # as a swap would: the same rows, stored afresh in another order, the table marked
            rows = sql.query(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY event_id DESC")
            sql.execute(f"DELETE FROM {table}")
            app.timelines.stage(TABLE, [Row(*(bytes(v) if isinstance(v, memoryview) else v for v in r)) for r in rows])
            app.timelines.mark_unfilled()
            moved.append(len(rows))
        return derive(*args)

    monkeypatch.setattr(timeline_table, "entry_bytes", derive_while_a_swap_lands)
    fill = EntryFill(app.timelines, rest=0)
    await fill.fill()
    assert moved == [len(live)] and fill.woken  # marked meanwhile: the loop runs it again
    await fill.fill()
    assert entries_by_event(app) == live and not app.timelines.unfilled_mark()
    app.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_on_postgresql_a_section_is_read_from_the_rows_to_fill_not_the_whole_table(
    store: PlatformSettings,  # noqa: F811 - the fixture
) -> None:
    """PostgreSQL's planner takes `length(entry) = 0` for rare: without an index of those rows it
    read the whole table at every section (a million rows: ~2,000 sections, hours)."""
    app = ReportingApplication(store)
    envelope = bytes(300)
    app.timelines.stage(TABLE, [Row(f"{i:08d}", f"case-{i % 500}", i, i, "intake", i, "intake.v1.X", envelope, b"")
                                for i in range(20_000)])
    sql = Sql(app)
    sql.execute(f"ANALYZE {sql.table(TABLE)}")
    statement, start = app.timelines.section_query()
    plan = "\n".join(str(row[0]) for row in sql.query(f"EXPLAIN {statement}", [start]))
    assert f"{TABLE}_to_fill" in plan and "Seq Scan" not in plan, plan
    app.close()


def unreadable_row(event_id: str, case_id: str) -> Row:
    """A row whose payload this build cannot read (not a timeline entry: no entry to store)."""
    from casework.common.v1 import envelope_pb2

    envelope = envelope_pb2.EventEnvelope(event_id=event_id, event_type="intake.v1.LegalAdviceRequested", case_id=case_id)
    envelope.source.service, envelope.source.notification_id = "intake", 99
    envelope.payload.type_url = "type.googleapis.com/intake.v1.LegalAdviceRequested"
    envelope.payload.value = b"\xff\xff\xff not a message"
    ts = envelope.occurred_at
    return Row(event_id, case_id, ns_of(ts), ns_of(ts), "intake", 99, envelope.event_type,
               envelope.SerializeToString(), b"")


async def test_rows_it_cannot_fill_are_left_and_a_swap_meanwhile_runs_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))
    feed = PublishingFeed(app)
    for i in range(7):
        case = str(stable_id("test", f"fill-{i}"))
        feed.publish(case, intake_events.LegalAdviceRequested(case_id=case), RECEIVED)
    sql = Sql(app)
    sql.execute(f"UPDATE {sql.table(TABLE)} SET entry = ?", [b""])  # as a rebuild leaves them
    app.timelines.stage(TABLE, [unreadable_row("0-unreadable", CASE)])
    app.timelines.mark_unfilled()

    fill, sections = EntryFill(app.timelines, rest=0), []
    real_section = app.timelines.fill_section

    def section_with_a_swap(after: FillPosition) -> Any:
        if not sections:  # a rebuild swaps rows in while the pass is under way
            app.timelines.mark_unfilled()
        sections.append(after)
        return real_section(after, 3)  # eight rows: three sections

    monkeypatch.setattr(app.timelines, "fill_section", section_with_a_swap)
    assert await fill.fill() == 7 and len(sections) == 3
    assert app.timelines.rows_to_fill() == 1  # the unreadable row: still not shown, left as it was
    assert app.timelines.unfilled_mark() and fill.woken  # marked again meanwhile: once more
    assert await fill.fill() == 0 and not app.timelines.unfilled_mark()
    app.close()


async def test_the_service_loop_fills_at_start_and_when_woken(tmp_path: Path) -> None:
    app = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))
    feed = PublishingFeed(app)
    many_cases(feed, 3)
    sql = Sql(app)

    def unfill() -> None:
        sql.execute(f"UPDATE {sql.table(TABLE)} SET entry = ?", [b""])
        app.timelines.mark_unfilled()

    async def filled() -> None:
        while app.timelines.rows_to_fill():
            await asyncio.sleep(0.02)

    unfill()
    fill = EntryFill(app.timelines, rest=0)
    running = asyncio.create_task(fill.run())
    try:
        await asyncio.wait_for(filled(), 10)  # at start: a rebuild or a copy before a restart
        unfill()
        await asyncio.sleep(0.2)
        assert app.timelines.rows_to_fill() == 3  # asleep until woken
        fill.wake()  # as `RebuildTimelines` does once its rows are swapped in
        await asyncio.wait_for(filled(), 10)
    finally:
        running.cancel()
    app.close()
