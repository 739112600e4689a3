"""A case's timeline for regulators and reviews: every service's events in order, who and when,
which deadlines each started, met or breached, as at any instant, corrections shown as such."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from caseplatform.envelope import to_timestamp
from caseplatform.errors import NotFound
from caseplatform.identity import Actor
from caseplatform.ids import stable_id
from caseplatform.settings import PlatformSettings
from casework.common.v1 import envelope_pb2
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import events_pb2 as referral_events
from casework.referral.v1 import referral_pb2
from casework.risk.v1 import events_pb2 as risk_events
from casework.risk.v1 import risk_pb2
from reporting.application import ReportingApplication
from reporting.domain.timeline_entry import TimelineEntry
from reporting.timelines.entries import entry_bytes, entry_dict, timeline_row
from reporting.timelines.fill import EntryFill
from reporting.timelines.table import OLDER, PREVIOUS

from .helpers import Feed

CASE = str(stable_id("test", "case-1"))
RECEIVED = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)  # a Friday evening
DUE = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)           # end of Monday
POLICE = Actor("gwent-police", "PC", "pc-1")


@pytest.fixture
def app(tmp_path: Path) -> ReportingApplication:
    return ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))


def deadline(kind: str, clock_id: str = "") -> envelope_pb2.Deadline:
    return envelope_pb2.Deadline(kind=kind, due_at=to_timestamp(DUE), due_date="2026-11-23", clock_id=clock_id)


def a_case(feed: Feed) -> None:
    feed.publish(CASE, intake_events.DisclosureReceived(
        case_id=CASE, channel=intake_pb2.POLICE_DACC, postcode_district="NP4", children_ages=[4],
        deadlines=[deadline("SAFE_CONTACT"), deadline("CASE_RECORDED")],
    ), RECEIVED, RECEIVED + timedelta(minutes=20))
    feed.publish(CASE, referral_events.ReferralRequired(
        referral_id="r-1", case_id=CASE, type=referral_pb2.CHILDRENS_MARF, target_agency="children-services",
        reason="children in the household", deadline=deadline("CHILDRENS_REFERRAL", "referral:r-1"),
    ), RECEIVED + timedelta(minutes=21))
    feed.publish(CASE, referral_events.ReferralSent(
        referral_id="r-1", case_id=CASE, type=referral_pb2.CHILDRENS_MARF, target_agency="children-services",
        deadlines_met=[envelope_pb2.DeadlineMet(kind="CHILDRENS_REFERRAL", clock_id="referral:r-1", on_time=True)],
    ), RECEIVED + timedelta(hours=2))
    # Assessed by the police on Tuesday: the deadline met, but late.
    feed.publish(CASE, risk_events.RiskAssessed(
        case_id=CASE, assessment_id="a-1", grade=risk_pb2.HIGH, triggers=[risk_pb2.VISIBLE_HIGH_RISK],
        yes_count=15, source=risk_pb2.POLICE, checklist=risk_pb2.POLICE_DASH, satisfies_deadline=True,
        on_time=False, deadline=deadline("RISK_ASSESSMENT"),
    ), DUE + timedelta(hours=10), actor=POLICE)


def test_every_service_in_order_with_who_when_and_deadlines(app: ReportingApplication) -> None:
    a_case(Feed(app))
    entries = app.timeline(stable_id("test", "case-1"))
    assert [e["event_type"] for e in entries] == [
        "intake.v1.DisclosureReceived", "referral.v1.ReferralRequired", "referral.v1.ReferralSent", "risk.v1.RiskAssessed",
    ]
    first, _, sent, assessed = entries
    assert first["occurred_at"] == "2026-11-20T18:30:00.000000Z"
    assert first["recorded_at"] == "2026-11-20T18:50:00.000000Z"  # recorded 20 minutes after receipt
    assert [(d["kind"], d["mark"]) for d in first["deadlines"]] == [("SAFE_CONTACT", "STARTED"), ("CASE_RECORDED", "STARTED")]
    assert sent["deadlines"][0] | {"due_at": ""} == {
        "kind": "CHILDRENS_REFERRAL", "clock_id": "referral:r-1", "mark": "MET", "due_at": ""}
    assert (assessed["actor"]["agency"], assessed["actor"]["role"]) == ("gwent-police", "PC")
    assert [(d["kind"], d["mark"]) for d in assessed["deadlines"]] == [("RISK_ASSESSMENT", "MET_LATE")]
    assert "HIGH risk" in assessed["summary"]


def test_as_at_shows_only_what_had_been_recorded_then(app: ReportingApplication) -> None:
    feed = Feed(app)
    a_case(feed)
    # Recorded on Wednesday, though it happened on Saturday: not known on Monday.
    feed.publish(CASE, intake_events.SafeContactRecorded(case_id=CASE, outcome=intake_pb2.MADE, deadline_met=True),
                 RECEIVED + timedelta(days=1), recorded_at=DUE + timedelta(days=2))
    feed.publish(CASE, intake_events.DetailsCorrected(case_id=CASE, postcode_district="NP44"), DUE + timedelta(days=2, hours=1))
    case = stable_id("test", "case-1")

    monday = app.timeline(case, as_at=DUE - timedelta(hours=1))
    assert [e["event_type"].split(".")[-1] for e in monday] == ["DisclosureReceived", "ReferralRequired", "ReferralSent"]

    everything = app.timeline(case)
    assert [e["event_type"].split(".")[-1] for e in everything] == [
        "DisclosureReceived", "ReferralRequired", "ReferralSent", "SafeContactRecorded", "RiskAssessed", "DetailsCorrected",
    ]
    corrections = [e for e in everything if e["correction"]]
    assert [e["event_type"] for e in corrections] == ["intake.v1.DetailsCorrected"]
    assert all(not e["correction"] for e in monday)
    # An instant before anything was recorded shows an empty timeline, not someone else's.
    assert app.timeline(case, as_at=RECEIVED) == []


def test_a_redelivered_event_is_on_the_timeline_once(app: ReportingApplication) -> None:
    feed = Feed(app)
    event = feed.publish(CASE, intake_events.LegalAdviceRequested(case_id=CASE), RECEIVED)
    feed.inbox.apply("intake", 0, [event])  # redelivered by the broker
    assert len(app.timeline(stable_id("test", "case-1"))) == 1


def test_unknown_case_is_not_found(app: ReportingApplication) -> None:
    with pytest.raises(NotFound):
        app.timeline(stable_id("test", "nobody"))


def test_a_case_with_a_thousand_events_reads_in_milliseconds(app: ReportingApplication) -> None:
    feed = Feed(app)
    events = [
        feed.envelope(CASE, intake_events.ConsentRecorded(case_id=CASE, decision=intake_pb2.GIVEN, agencies=["idva"]),
                      RECEIVED + timedelta(minutes=i))
        for i in range(1000)
    ]
    feed.publish_many(events)
    case = stable_id("test", "case-1")
    assert len(app.timeline(case)) == 1000  # (also brings the table up to date)
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        app.timeline(case, as_at=RECEIVED + timedelta(days=1))
        timings.append(time.perf_counter() - start)
    # The target is p99 <= 50 ms end to end (a benchmark on a quiet machine). Here, on a shared
    # machine, the best of 20 (timeit's rule: the least disturbed run) shows what the read costs.
    assert min(timings) < 0.05, timings


def test_the_api_answer_from_stored_messages_is_the_projection_entry_for_entry(app: ReportingApplication) -> None:
    from reporting.timelines.messages import entry_message

    feed = Feed(app)
    a_case(feed)
    feed.publish(CASE, intake_events.SafeContactRecorded(case_id=CASE, outcome=intake_pb2.MADE, deadline_met=True),
                 RECEIVED + timedelta(days=1), recorded_at=DUE + timedelta(days=2))
    case = stable_id("test", "case-1")
    for as_at in (None, DUE - timedelta(hours=1), RECEIVED):
        expected = [entry_message(e) for e in app.timeline(case, as_at=as_at)]
        assert list(app.timeline_response(case, as_at=as_at).entries) == expected
    with pytest.raises(NotFound):
        app.timeline_response(stable_id("test", "nobody"))


def dict_view(event) -> dict:
    """An entry's plain-dict view, as earlier versions stored it."""
    return entry_dict(timeline_row(event).envelope)


def test_entries_recorded_before_adr_0024_are_copied_into_the_table(tmp_path: Path) -> None:
    settings = PlatformSettings(casework_data_dir=tmp_path)
    feed = Feed(ReportingApplication(settings))
    event = feed.envelope(CASE, intake_events.LegalAdviceRequested(case_id=CASE), RECEIVED)
    older = ReportingApplication(settings)
    # What an earlier version recorded instead of a row: the entry as an event of its own.
    older.save(TimelineEntry(case_id=CASE, event_id=event.envelope.event_id, entry=dict_view(event)))
    assert not older.timelines.has_case(CASE)
    reopened = ReportingApplication(settings)
    assert [e["event_id"] for e in reopened.timeline(stable_id("test", "case-1"))] == [event.envelope.event_id]


def two_events(feed: Feed) -> list:
    return [
        feed.envelope(CASE, intake_events.DisclosureReceived(
            case_id=CASE, channel=intake_pb2.POLICE_DACC, postcode_district="NP4", children_ages=[4, 9],
            deadlines=[deadline("SAFE_CONTACT")]), RECEIVED),
        feed.envelope(CASE, risk_events.RiskAssessed(
            case_id=CASE, assessment_id="a-1", grade=risk_pb2.HIGH, triggers=[risk_pb2.VISIBLE_HIGH_RISK], yes_count=15,
            source=risk_pb2.POLICE, checklist=risk_pb2.POLICE_DASH, satisfies_deadline=True, on_time=True,
            deadline=deadline("RISK_ASSESSMENT")), RECEIVED + timedelta(hours=3), actor=POLICE),
    ]


def an_earlier_table(path: Path, name: str, columns: str, rows: list[tuple]) -> None:
    """A table as an earlier version left it in reporting's store."""
    db = sqlite3.connect(path / "reporting" / "events.sqlite")
    with db:
        db.execute(f"CREATE TABLE {name} ({columns})")
        db.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    db.close()


def test_rows_of_the_v2_table_are_copied_once_with_their_details(tmp_path: Path) -> None:
    """ADR 0025: `timeline_entries_v2` kept the dict view as JSON; opening the store copies each
    row into the new table, its payload recovered from the details, and the timeline reads the same."""
    settings = PlatformSettings(casework_data_dir=tmp_path)
    events = two_events(Feed(ReportingApplication(settings)))
    expected = [dict_view(e) for e in events]
    an_earlier_table(tmp_path, OLDER, (
        "event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "service TEXT NOT NULL, notification_id BIGINT NOT NULL, event_type TEXT NOT NULL, entry TEXT NOT NULL, "
        "message BLOB NOT NULL"), [
        (e["event_id"], e["case_id"], e["occurred_at"], e["recorded_at"], e["service"], e["notification_id"],
         e["event_type"], json.dumps(e, sort_keys=True), entry_bytes(timeline_row(event).envelope))
        for e, event in zip(expected, events, strict=True)
    ])
    reopened = ReportingApplication(settings)
    assert reopened.timeline(stable_id("test", "case-1")) == expected
    assert expected[0]["details"]["children_ages"] == [4, 9]
    assert reopened.timelines.copy_previous_rows() == 0  # once only
    assert reopened.timelines.count() == 2
    # v2 rows come without entries: marked for the background pass, which stores them (ADR 0042).
    assert reopened.timelines.rows_to_fill() == 2 and reopened.timelines.unfilled_mark()
    assert asyncio.run(EntryFill(reopened.timelines, rest=0).fill()) == 2
    assert reopened.timelines.rows_to_fill() == 0 and reopened.timeline(stable_id("test", "case-1")) == expected


def test_rows_of_the_v3_table_are_copied_once_and_read_as_they_were(tmp_path: Path) -> None:
    """ADR 0042: `timeline_entries_v3` kept each entry and its payload; opening the store makes
    each row an envelope again, and the timeline and the API answer read the same as before."""
    settings = PlatformSettings(casework_data_dir=tmp_path)
    events = two_events(Feed(ReportingApplication(settings)))
    expected = [dict_view(e) for e in events]
    an_earlier_table(tmp_path, PREVIOUS, (
        "event_id TEXT NOT NULL, case_id TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "service TEXT NOT NULL, notification_id BIGINT NOT NULL, event_type TEXT NOT NULL, message BLOB NOT NULL, "
        "payload_type TEXT NOT NULL, payload BLOB NOT NULL"), [
        (e["event_id"], e["case_id"], e["occurred_at"], e["recorded_at"], e["service"], e["notification_id"],
         e["event_type"], entry_bytes(timeline_row(event).envelope), event.payload.DESCRIPTOR.full_name,
         event.payload.SerializeToString())
        for e, event in zip(expected, events, strict=True)
    ])
    reopened = ReportingApplication(settings)
    case = stable_id("test", "case-1")
    assert reopened.timeline(case) == expected
    assert [m.SerializeToString(deterministic=True) for m in reopened.timeline_response(case).entries] == [
        entry_bytes(timeline_row(e).envelope) for e in events
    ]
    assert reopened.timelines.copy_previous_rows() == 0  # once only
    assert reopened.timelines.count() == 2
    assert reopened.timelines.rows_to_fill() == 0 and not reopened.timelines.unfilled_mark()  # v3 kept its entries


@pytest.mark.parametrize("instant", [
    datetime(2026, 11, 20, 18, 30, tzinfo=UTC), datetime(2028, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 0, 0, 5, tzinfo=UTC),
    datetime(2027, 3, 28, 1, 0, tzinfo=UTC),  # the hour British Summer Time begins: UTC is unaffected
])
def test_timestamps_format_as_the_sortable_utc_text_of_the_table(instant: datetime) -> None:
    from reporting.domain.deadline_marks import iso, iso_of

    assert iso_of(to_timestamp(instant)) == iso(instant)


async def test_the_commit_that_writes_a_cases_rows_wakes_its_watchers_and_no_others(app: ReportingApplication) -> None:
    import asyncio

    other = str(stable_id("test", "case-2"))
    watch = app.timeline_watch
    with watch.watching(CASE) as mine, watch.watching(other) as theirs:
        assert watch.watchers() == 2
        await asyncio.to_thread(a_case, Feed(app))  # committed on another thread, as the inbox does
        await asyncio.wait_for(mine.wait(), timeout=2)
        assert not theirs.is_set()
        keyed = app.keyed_timeline(CASE, redacted=False)
        assert [t for _, t, _ in keyed] == [e["event_type"] for e in app.timeline(stable_id("test", "case-1"))]
        redacted = app.keyed_timeline(CASE, redacted=True)
        assert [i for i, _, _ in redacted] == [i for i, _, _ in keyed]
    assert watch.watchers() == 0
