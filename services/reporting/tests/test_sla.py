"""The SLA engine at the application level, on a controlled clock and a real SQLite store:
clocks against the working-day calendar, breaches recorded by reporting itself when the due
instant passes (once), met on time or late, and a rebuild that equals the live projection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from prometheus_client import REGISTRY

from caseplatform.calendar import LONDON
from caseplatform.inbox import Inbox
from caseplatform.testing import controlled_clock
from casework.common.v1 import envelope_pb2
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import events_pb2 as referral_events
from casework.reporting.v1 import events_pb2 as reporting_events
from reporting.application import ReportingApplication
from reporting.domain.sla import BREACHED, MET, OPEN, WITHDRAWN, SlaCase, SlaClock
from reporting.sla_breaches import TABLE as BREACH_TABLE
from reporting.sla_projection import BreachFilter
from reporting.translation import to_contract

from .sla_helpers import (
    GOOD_FRIDAY_EVENING,
    Feed,
    app_for,
    assessment_required,
    case_id_for,
    disclosure,
    risk_assessed,
    safe_contact,
    seconds,
    snapshot,
    stored_events,
    watch_for,
    work_completed,
    work_order_raised,
)

# 1 working day from Good Friday evening: Easter Monday is a bank holiday, so the end of Tuesday
# 30 March 2027 — in British Summer Time (from the 28th), i.e. 23:00 UTC.
TUESDAY_END = datetime(2027, 3, 30, 23, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[Any]:
    with controlled_clock(GOOD_FRIDAY_EVENING) as c:
        yield c


@pytest.fixture
def app(tmp_path: Path, clock: Any) -> ReportingApplication:
    return app_for(tmp_path / "live")


def test_clocks_follow_the_calendar_across_the_easter_bank_holiday(app: ReportingApplication) -> None:
    case = case_id_for("easter")
    Feed(app).send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING, children=1), GOOD_FRIDAY_EVENING)
    area, clocks = app.sla.status(case)
    by_kind = {c.kind: c for c in clocks}
    assert area == "Torfaen North"
    assert by_kind["SAFE_CONTACT"].due_at == TUESDAY_END
    assert by_kind["SAFE_CONTACT"].start["due_date"] == "2027-03-30"
    assert by_kind["SAFE_CONTACT"].state == OPEN
    # The MARF is due the same day, before midnight (GMT on the 26th).
    assert by_kind["CHILDRENS_REFERRAL"].due_at == datetime(2027, 3, 27, 0, 0, tzinfo=UTC)
    # Recording the disclosure records the case: CASE_RECORDED is met by the same event, on time.
    recorded = by_kind["CASE_RECORDED"]
    assert (recorded.state, recorded.on_time, recorded.met_at) == (MET, True, GOOD_FRIDAY_EVENING)


def test_breach_is_recorded_when_the_due_instant_passes_and_only_once(app: ReportingApplication, clock: Any) -> None:
    case = case_id_for("breach")
    Feed(app).send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    watch = watch_for(app)
    breaches_before = _sample("casework_sla_breaches_total", kind="SAFE_CONTACT", area="Torfaen North")

    clock.set(datetime(2027, 3, 30, 23, 59, 59, tzinfo=LONDON))  # a second before the end of Tuesday
    watch.tick()
    assert _clock(app, case, "SAFE_CONTACT").state == OPEN

    clock.set(TUESDAY_END + seconds(0.3))
    watch.tick()
    watch.tick()
    breached = _clock(app, case, "SAFE_CONTACT")
    assert (breached.state, breached.breached_at) == (BREACHED, TUESDAY_END)
    assert stored_events(app, f"{case}:SAFE_CONTACT").count("Breached") == 1
    assert _sample("casework_sla_breaches_total", kind="SAFE_CONTACT", area="Torfaen North") == breaches_before + 1

    # A second watch (a restart, or another replica) finds it breached and records nothing more.
    other = watch_for(app)
    other.follow(count=False)
    assert other.sweep(clock.now()) == 0
    assert stored_events(app, f"{case}:SAFE_CONTACT").count("Breached") == 1

    # What goes on reporting.events.v1: SlaBreached with breached_at == due_at.
    published = [to_contract(e, app.sla.area_of) for e in app.repository.event_store.get(breached.id)]
    breach = [p.payload for p in published if p and isinstance(p.payload, reporting_events.SlaBreached)]
    assert len(breach) == 1
    assert breach[0].kind == "SAFE_CONTACT" and breach[0].area == "Torfaen North" and breach[0].service == "intake"
    assert breach[0].breached_at == breach[0].due_at
    assert breach[0].case_id == case


def test_safe_contact_made_in_time_meets_the_clock(app: ReportingApplication, clock: Any) -> None:
    case = case_id_for("met")
    feed = Feed(app)
    feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    attempt_at = datetime(2027, 3, 29, 10, 0, tzinfo=LONDON)
    feed.send("intake", case, safe_contact(case, attempt_at, met=False, outcome=intake_pb2.ATTEMPTED), attempt_at)
    assert _clock(app, case, "SAFE_CONTACT").state == OPEN  # an attempt does not stop the clock
    made_at = datetime(2027, 3, 30, 9, 30, tzinfo=LONDON)
    clock.set(made_at)
    feed.send("intake", case, safe_contact(case, made_at, met=True), made_at)
    met = _clock(app, case, "SAFE_CONTACT")
    assert (met.state, met.on_time, met.met_at, met.breached_at) == (MET, True, made_at, None)
    watch = watch_for(app)
    watch.follow(count=False)
    assert watch.sweep(TUESDAY_END + timedelta(days=5)) == 0  # nothing open to breach


def test_a_stop_recorded_after_the_due_instant_is_a_breach_then_late(app: ReportingApplication, clock: Any) -> None:
    # No watch ran (reporting was down, or this is a replay): the breach is still a fact, at due_at.
    case = case_id_for("late")
    feed = Feed(app)
    feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    late = datetime(2027, 3, 31, 11, 0, tzinfo=LONDON)
    clock.set(late)
    feed.send("intake", case, safe_contact(case, late, met=False), late)
    c = _clock(app, case, "SAFE_CONTACT")
    assert (c.state, c.breached_at, c.met_at, c.on_time) == (MET, TUESDAY_END, late, False)
    assert stored_events(app, f"{case}:SAFE_CONTACT")[-2:] == ["Breached", "Met"]


def test_case_recorded_late_when_received_days_before(app: ReportingApplication, clock: Any) -> None:
    case = case_id_for("recorded-late")
    received = datetime(2027, 3, 22, 9, 0, tzinfo=LONDON)  # Monday: due by the end of Tuesday the 23rd
    Feed(app).send("intake", case, disclosure(case, received), GOOD_FRIDAY_EVENING)
    c = _clock(app, case, "CASE_RECORDED")
    assert (c.state, c.on_time, c.breached_at) == (MET, False, datetime(2027, 3, 23, 23, 59, tzinfo=LONDON) + timedelta(minutes=1))


def test_risk_assessment_and_repairs_clocks(app: ReportingApplication, clock: Any) -> None:
    case = case_id_for("risk-repairs")
    feed = Feed(app)
    feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    feed.send("risk", case, assessment_required(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    due = GOOD_FRIDAY_EVENING + timedelta(hours=24)
    feed.send("repairs", case, work_order_raised(case, "wo-1", due), GOOD_FRIDAY_EVENING)
    feed.send("repairs", case, work_order_raised(case, "wo-2", due), GOOD_FRIDAY_EVENING)
    done = GOOD_FRIDAY_EVENING + timedelta(hours=3)
    clock.set(done)
    feed.send("risk", case, risk_assessed(case, GOOD_FRIDAY_EVENING, done, on_time=True), done)
    feed.send("repairs", case, work_completed(case, "wo-1", due, done), done)
    feed.send("repairs", case, _cancelled(case, "wo-2"), done)
    states = {c.clock_id: (c.kind, c.state, c.on_time) for c in app.sla.status(case)[1]}
    assert states[f"{case}:RISK_ASSESSMENT"] == ("RISK_ASSESSMENT", MET, True)
    assert states["work-order:wo-1"] == ("REPAIRS_EMERGENCY", MET, True)
    assert states["work-order:wo-2"] == ("REPAIRS_EMERGENCY", WITHDRAWN, None)
    assert len([k for k in states if "RISK_ASSESSMENT" in k]) == 1  # RiskAssessed's deadline is not a new clock


def test_deadline_met_from_another_topic_before_its_start_still_settles(tmp_path: Path, clock: Any) -> None:
    # referral meets the children's referral clock intake started; a rebuild may read referral's
    # topic first. Either order gives the same clock.
    case = case_id_for("marf")
    sent_at = GOOD_FRIDAY_EVENING + timedelta(hours=1)
    sent = referral_events.ReferralSent(
        referral_id="r-1", case_id=case,
        deadlines_met=[envelope_pb2.DeadlineMet(kind="CHILDRENS_REFERRAL", met_at=_ts(sent_at), on_time=True)],
    )
    results = []
    for name, order in (("in-order", ("intake", "referral")), ("reversed", ("referral", "intake"))):
        app = app_for(tmp_path / name)
        feed = Feed(app)
        for service in order:
            if service == "intake":
                feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING, children=2), GOOD_FRIDAY_EVENING)
            else:
                feed.send("referral", case, sent, sent_at)
        results.append(snapshot(app, [case]))
    assert results[0] == results[1]
    assert results[0][f"{case}:CHILDRENS_REFERRAL"]["state"] == MET


def test_rebuild_from_every_topic_equals_live(tmp_path: Path, clock: Any) -> None:
    live = app_for(tmp_path / "live")
    feed = Feed(live)
    watch = watch_for(live)
    cases = [case_id_for(f"rebuild-{i}") for i in range(4)]
    start = GOOD_FRIDAY_EVENING
    contact_due = start + timedelta(minutes=30)
    # Live, in time order, the watch sweeping as time passes.
    for case in cases:
        feed.send("intake", case, disclosure(case, start, preferred_contact_at=contact_due), start)
        feed.send("risk", case, assessment_required(case, start), start)
    clock.set(start + timedelta(minutes=10))
    feed.send("intake", cases[0], safe_contact(cases[0], clock.now(), met=True), clock.now())  # on time
    clock.set(contact_due + seconds(0.5))
    watch.tick()  # cases 1..3 breached now
    clock.set(contact_due + timedelta(minutes=20))
    feed.send("intake", cases[1], safe_contact(cases[1], clock.now(), met=False), clock.now())  # late
    feed.send("risk", cases[2], risk_assessed(cases[2], start, clock.now(), on_time=True), clock.now())
    feed.send("intake", cases[3], intake_events.CaseClosed(case_id=cases[3]), clock.now())
    watch.tick()

    # Rebuild: a fresh store reads every topic from its start — risk's before intake's — and
    # then notices what has passed.
    rebuilt = app_for(tmp_path / "rebuilt")
    inbox = Inbox(rebuilt, rebuilt.policy)
    for service in ("risk", "intake"):
        inbox.apply(service, 0, [e for s, e in feed.history if s == service])
    rebuild_watch = watch_for(rebuilt)
    rebuild_watch.follow(count=False)
    rebuild_watch.sweep(clock.now())

    assert snapshot(rebuilt, cases) == snapshot(live, cases)
    live_breaches = [(c.clock_id, c.breached_at) for c, _ in live.sla.breaches(BreachFilter())]
    assert live_breaches == [(c.clock_id, c.breached_at) for c, _ in rebuilt.sla.breaches(BreachFilter())]
    # And what live recorded is what the rules say: three safe-contact breaches, at the due instant.
    kinds = sorted((c.kind, c.breached_at) for c, _ in live.sla.breaches(BreachFilter()))
    assert kinds == [("SAFE_CONTACT", contact_due)] * 3


def test_list_breaches_filters_by_kind_service_area_and_period(app: ReportingApplication, clock: Any) -> None:
    feed = Feed(app)
    north, south = case_id_for("north"), case_id_for("south")
    feed.send("intake", north, disclosure(north, GOOD_FRIDAY_EVENING, area="Torfaen North"), GOOD_FRIDAY_EVENING)
    feed.send("intake", south, disclosure(south, GOOD_FRIDAY_EVENING, area="Torfaen South"), GOOD_FRIDAY_EVENING)
    feed.send("risk", north, assessment_required(north, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    clock.set(TUESDAY_END + timedelta(hours=1))
    watch = watch_for(app)
    watch.tick()
    everything = app.sla.breaches(BreachFilter())
    assert sorted(c.kind for c, _ in everything) == ["RISK_ASSESSMENT", "SAFE_CONTACT", "SAFE_CONTACT"]
    assert [a for _, a in app.sla.breaches(BreachFilter(area="Torfaen South"))] == ["Torfaen South"]
    assert [c.kind for c, _ in app.sla.breaches(BreachFilter(service="risk"))] == ["RISK_ASSESSMENT"]
    assert len(app.sla.breaches(BreachFilter(kind="SAFE_CONTACT", area="Torfaen North"))) == 1
    assert app.sla.breaches(BreachFilter(end=TUESDAY_END)) == []
    assert len(app.sla.breaches(BreachFilter(start=TUESDAY_END, end=TUESDAY_END + seconds(1)))) == 3


def test_breaches_recorded_before_the_breach_table_are_copied_in_once(tmp_path: Path, clock: Any) -> None:
    """ListSlaBreaches reads breach rows (ADR 0035); a store whose breaches were recorded before
    the table existed gets its rows once, when it opens, and lists the same breaches."""
    app = app_for(tmp_path / "store")
    feed = Feed(app)
    north = case_id_for("north")
    feed.send("intake", north, disclosure(north, GOOD_FRIDAY_EVENING, area="Torfaen North"), GOOD_FRIDAY_EVENING)
    feed.send("risk", north, assessment_required(north, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    clock.set(TUESDAY_END + timedelta(hours=1))
    watch_for(app).tick()
    listed = [(c.clock_id, c.breached_at) for c, _ in app.sla.breaches(BreachFilter())]
    assert len(listed) == 2 and app.read_model_rows()["sla_breaches"] == 2
    app.close()
    with sqlite3.connect(tmp_path / "store" / "reporting" / "events.sqlite") as db:  # as before ADR 0035
        db.execute(f"DROP TABLE {BREACH_TABLE}")
        db.execute("DELETE FROM read_model_positions WHERE name LIKE ?", [f"{BREACH_TABLE}%"])

    reopened = app_for(tmp_path / "store")
    try:
        assert [(c.clock_id, c.breached_at) for c, _ in reopened.sla.breaches(BreachFilter())] == listed
        assert reopened.sla_breaches.copy_recorded_breaches() == 0
        assert [c.kind for c, _ in reopened.sla.breaches(BreachFilter(service="risk"))] == ["RISK_ASSESSMENT"]
    finally:
        reopened.close()


def test_metrics_are_labelled_by_kind_service_and_area_only(app: ReportingApplication, clock: Any) -> None:
    case = case_id_for("metrics")
    Feed(app).send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING, area="Blaenau Gwent"), GOOD_FRIDAY_EVENING)
    watch = watch_for(app)
    watch.tick()
    assert _sample("casework_sla_open_clocks", kind="SAFE_CONTACT", area="Blaenau Gwent", state="on_track") == 1
    clock.set(TUESDAY_END - timedelta(minutes=30))
    watch.tick()
    assert _sample("casework_sla_open_clocks", kind="SAFE_CONTACT", area="Blaenau Gwent", state="due_soon") == 1
    assert _sample("casework_sla_open_clocks", kind="SAFE_CONTACT", area="Blaenau Gwent", state="on_track") == 0
    for metric in REGISTRY.collect():
        if metric.name.startswith("casework_sla"):
            for s in metric.samples:
                assert set(s.labels) <= {"kind", "service", "area", "state", "outcome", "le"}
                assert case not in s.labels.values()


def _clock(app: ReportingApplication, case: str, kind: str) -> SlaClock:
    return next(c for c in app.sla.status(case)[1] if c.kind == kind)


def _sample(name: str, **labels: str) -> float:
    for metric in REGISTRY.collect():
        for s in metric.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def _ts(instant: datetime) -> Any:
    from caseplatform.envelope import to_timestamp

    return to_timestamp(instant)


def _cancelled(case: str, work_order_id: str) -> Any:
    from casework.repairs.v1 import events_pb2

    return events_pb2.WorkOrderCancelled(case_id=case, work_order_id=work_order_id)


def test_clocks_due_at_one_instant_are_breached_together_and_published_with_their_area(
    app: ReportingApplication, clock: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = Feed(app)
    cases = [case_id_for(f"midnight-{i}") for i in range(250)]
    for case in cases:
        feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING, area="Caerphilly"), GOOD_FRIDAY_EVENING)
    watch = watch_for(app)
    watch.tick()
    commits: list[int] = []
    save = app.save
    monkeypatch.setattr(app, "save", lambda *aggregates: commits.append(len(aggregates)) or save(*aggregates))

    clock.set(TUESDAY_END + seconds(0.3))
    watch.tick()
    # 250 safe-contact clocks (CASE_RECORDED was met by the disclosure): two commits, not 250.
    assert sorted(commits) == [50, 200]
    assert len(app.sla.breaches(BreachFilter(kind="SAFE_CONTACT", area="Caerphilly"))) == 250
    # Publishing needs no read of each case: the area is on the event the watch recorded.
    topics = [get_topic(SlaClock.Breached)]
    breach = app.mapper.to_domain_event(app.recorder.select_notifications(start=1, limit=1, topics=topics)[0])
    assert breach.clock["area"] == "Caerphilly"

    def no_lookup(case_id: str) -> str:
        raise AssertionError("area looked up")

    published = to_contract(breach, area_of=no_lookup)
    assert published is not None and published.payload.area == "Caerphilly"
    # The same for a clock met by an event (CASE_RECORDED, met by the disclosure itself).
    met = app.recorder.select_notifications(start=1, limit=1, topics=[get_topic(SlaClock.Met)])[0]
    published = to_contract(app.mapper.to_domain_event(met), area_of=no_lookup)
    assert published is not None and published.payload.area == "Caerphilly"


def test_a_breach_a_concurrent_writer_got_in_first_is_tried_again(
    app: ReportingApplication, clock: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = case_id_for("conflict")
    Feed(app).send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    watch = watch_for(app)
    watch.tick()
    save = app.save
    conflicts = [IntegrityError("another replica recorded first")]

    def save_once_conflicting(*aggregates: Any) -> Any:
        if conflicts:
            raise conflicts.pop()
        return save(*aggregates)

    monkeypatch.setattr(app, "save", save_once_conflicting)
    clock.set(TUESDAY_END + seconds(0.3))
    watch.tick()
    assert _clock(app, case, "SAFE_CONTACT").state == OPEN and not conflicts
    clock.set(TUESDAY_END + seconds(0.5))
    watch.tick()
    assert (_clock(app, case, "SAFE_CONTACT").state, _clock(app, case, "SAFE_CONTACT").breached_at) == (BREACHED, TUESDAY_END)
    assert stored_events(app, f"{case}:SAFE_CONTACT").count("Breached") == 1


def test_an_outcome_recorded_before_the_area_was_known_is_published_with_it_read_once(
    app: ReportingApplication, clock: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # risk's topic read before intake's: the risk-assessment clock starts and is met while the
    # case's area is unknown, so its `Met` names no area and the relay asks `area_of` for it.
    case = case_id_for("area-later")
    feed = Feed(app)
    feed.send("risk", case, assessment_required(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    done = GOOD_FRIDAY_EVENING + timedelta(hours=3)
    clock.set(done)
    feed.send("risk", case, risk_assessed(case, GOOD_FRIDAY_EVENING, done, on_time=True), done)
    met = app.mapper.to_domain_event(app.recorder.select_notifications(start=1, limit=10, topics=[get_topic(SlaClock.Met)])[0])
    assert "area" not in met.clock
    reads: list[str] = []
    read_case = app.sla.case
    monkeypatch.setattr(app.sla, "case", lambda case_id: reads.append(case_id) or read_case(case_id))
    assert to_contract(met, app.sla.area_of).payload.area == ""  # not known yet: read from the store
    assert to_contract(met, app.sla.area_of).payload.area == ""  # ... once
    feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING, area="Caerphilly"), GOOD_FRIDAY_EVENING)
    assert to_contract(met, app.sla.area_of).payload.area == "Caerphilly"  # the policy kept it current
    assert reads == [case]


def test_a_case_with_many_clocks_is_loaded_from_a_snapshot_equal_to_its_replay(app: ReportingApplication) -> None:
    """A case's SLA record gains an event per clock for the case's whole life: past 100 it is
    loaded from a snapshot (ADR 0034), which must hold what replaying every event gives."""
    case = case_id_for("long-lived")
    feed = Feed(app)
    feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    due = GOOD_FRIDAY_EVENING + timedelta(hours=24)
    for i in range(105):
        feed.send("repairs", case, work_order_raised(case, f"wo-{i}", due), GOOD_FRIDAY_EVENING)
    case_id = SlaCase.create_id(case)
    snapshots = list(app.snapshots.get(case_id)) if app.snapshots else []
    assert [s.originator_version for s in snapshots] == [100]
    replayed = None
    for stored in app.repository.event_store.get(case_id):  # every event, from the first
        replayed = stored.mutate(replayed)
    loaded = app.repository.get(case_id)
    assert vars(loaded) == vars(replayed) and loaded.version > 100
    work_orders = [c for c in loaded.clock_ids if c.startswith("work-order:")]
    assert len(work_orders) == 105 and len(loaded.clock_ids) == 107  # and the disclosure's own two
    area, clocks = app.sla.status(case)
    assert area == "Torfaen North" and {c.clock_id for c in clocks} == set(loaded.clock_ids)


def test_an_enum_value_from_a_newer_risk_service_still_meets_the_deadline(app: ReportingApplication, clock: Any) -> None:
    """Adding an enum value is a compatible contract change: reporting built before it must still
    put the event on the timeline and mark its deadline met, not dead-letter it and let the clock
    breach."""
    case = case_id_for("newer-grade")
    feed = Feed(app)
    feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    feed.send("risk", case, assessment_required(case, GOOD_FRIDAY_EVENING), GOOD_FRIDAY_EVENING)
    done = GOOD_FRIDAY_EVENING + timedelta(hours=3)
    clock.set(done)
    assessed = risk_assessed(case, GOOD_FRIDAY_EVENING, done, on_time=True)
    assessed.grade, assessed.triggers[:] = 77, [78]  # numbers this build does not know
    outcome = feed.inbox.apply("risk", 0, [feed.event("risk", case, assessed, done)])
    assert (outcome.processed, outcome.dead_letters) == (1, [])
    states = {c.clock_id: (c.state, c.on_time) for c in app.sla.status(case)[1]}
    assert states[f"{case}:RISK_ASSESSMENT"] == (MET, True)
    entry = app.timelines.for_case(case)[-1]
    assert entry["event_type"] == "risk.v1.RiskAssessed"
    assert "unrecognised value 77 risk" in entry["summary"] and "unrecognised value 78" in entry["summary"]
