"""The SLA watch follows clock *events* (ADR 0016): it keeps its open clocks and counts its
metrics from each notification's own event, never replaying a clock aggregate to do so, and what
it keeps is what the clocks themselves say."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prometheus_client import REGISTRY

from caseplatform.testing import controlled_clock
from casework.common.v1 import envelope_pb2
from casework.intake.v1 import events_pb2 as intake_events
from casework.referral.v1 import events_pb2 as referral_events
from casework.repairs.v1 import events_pb2 as repairs_events
from reporting import sla_metrics as m
from reporting import sla_watch
from reporting.application import ReportingApplication
from reporting.domain.sla import SlaClock
from reporting.sla_watch import CASE_TOPICS, CLOCK_TOPICS, SlaWatch

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
    watch_for,
    work_order_raised,
)

START = GOOD_FRIDAY_EVENING
AREA, NEW_AREA = "Watch Events North", "Watch Events South"  # this file's own metric series
METRICS = ("casework_sla_breaches_total", "casework_sla_met_total",
           "casework_sla_time_to_meet_seconds_sum", "casework_sla_time_to_meet_seconds_count")


@pytest.fixture
def clock() -> Iterator[Any]:
    with controlled_clock(START) as c:
        yield c


@pytest.fixture
def app(tmp_path: Path, clock: Any) -> ReportingApplication:
    return app_for(tmp_path / "live")


@pytest.fixture
def gets(app: ReportingApplication, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids of every aggregate read back from the store (replayed) from now on."""
    seen: list[UUID] = []
    real_get: Callable[..., Any] = app.repository.get

    def get(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        seen.append(aggregate_id)
        return real_get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(app.repository, "get", get)
    return seen


def test_following_decodes_each_notification_once_and_replays_no_aggregate(
    app: ReportingApplication, clock: Any, gets: list[UUID]
) -> None:
    feed = Feed(app)
    cases = [case_id_for(f"watch-no-replay-{i}") for i in range(3)]
    due = START + timedelta(minutes=30)
    for case in cases:
        feed.send("intake", case, disclosure(case, START, area=AREA, preferred_contact_at=due), START)
        feed.send("risk", case, assessment_required(case, START), START)
    feed.send("intake", cases[0], safe_contact(cases[0], START, met=True), START)
    mapper = _CountingMapper(app.mapper)
    watch = SlaWatch(app.sla, app.recorder, mapper=mapper, startup_hold_s=0)  # type: ignore[arg-type]

    gets.clear()
    watch.follow()
    followed = app.recorder.select_notifications(1, 10_000, topics=CLOCK_TOPICS + CASE_TOPICS)  # type: ignore[attr-defined]
    assert mapper.decoded == len(followed) > 0
    assert gets == []

    # Sweeping re-reads only the clocks that are due (to record their breach), and following
    # those breaches reads nothing back: not the clocks, nor (the watch recorded them) the
    # breaches' own events.
    clock.set(due + seconds(0.5))
    gets.clear()
    decoded = mapper.decoded
    watch.tick()
    breached = {SlaClock.create_id(f"{case}:SAFE_CONTACT") for case in cases[1:]}
    assert set(gets) == breached and len(gets) == len(breached)
    assert mapper.decoded == decoded
    gets.clear()
    watch.tick()
    assert gets == []
    assert _watched(watch) == _open_clocks(app, cases)
    assert {k for k, (*_, is_breached) in _watched(watch).items() if is_breached} == breached


def test_open_breached_met_and_metrics_are_what_the_clocks_say(
    app: ReportingApplication, clock: Any, gets: list[UUID]
) -> None:
    feed = Feed(app)
    watch = watch_for(app)
    before = _counted()
    breaches_before = _total("casework_sla_breaches_total", AREA, kind="SAFE_CONTACT")
    late_before = _total("casework_sla_met_total", AREA, kind="SAFE_CONTACT", outcome="late")
    on_time, late, closed, overdue, unwatched, marf = (
        case_id_for(f"watch-{name}") for name in ("on-time", "late", "closed", "overdue", "unwatched", "marf")
    )
    cases = [on_time, late, closed, overdue, unwatched, marf]
    due = START + timedelta(minutes=30)

    def step() -> None:
        """The watch as it runs, then what it keeps against the clocks' own state."""
        gets.clear()
        watch.tick()
        read_back = list(gets)
        assert _watched(watch) == _open_clocks(app, cases)
        assert set(read_back) <= _breached_clocks(app, cases)  # only a sweep reads a clock back

    for case in (on_time, late, closed, overdue):
        feed.send("intake", case, disclosure(case, START, area=AREA, preferred_contact_at=due), START)
    feed.send("risk", on_time, assessment_required(on_time, START), START)
    feed.send("repairs", on_time, work_order_raised(on_time, "watch-wo-1", START + timedelta(hours=24)), START)
    feed.send("repairs", on_time, work_order_raised(on_time, "watch-wo-2", START + timedelta(hours=24)), START)
    # A stop seen before its start (another topic first): Opened and StopNoted, then Started, Met.
    sent_at = START + timedelta(minutes=5)
    feed.send("referral", marf, referral_events.ReferralSent(
        referral_id="watch-r-1", case_id=marf,
        deadlines_met=[envelope_pb2.DeadlineMet(kind="CHILDRENS_REFERRAL", met_at=_ts(sent_at), on_time=True)],
    ), sent_at)
    feed.send("intake", marf, disclosure(marf, START, children=1, area=AREA, preferred_contact_at=due), sent_at)
    step()

    clock.set(START + timedelta(minutes=10))
    feed.send("intake", on_time, safe_contact(on_time, clock.now(), met=True), clock.now())
    feed.send("intake", marf, safe_contact(marf, clock.now(), met=True), clock.now())
    step()

    clock.set(due + seconds(0.5))
    step()  # late, closed and overdue breached by the watch
    assert {k for k, (*_, b) in _watched(watch).items() if b} == {
        SlaClock.create_id(f"{c}:SAFE_CONTACT") for c in (late, closed, overdue)
    }

    clock.set(START + timedelta(minutes=40))
    feed.send("intake", unwatched, disclosure(unwatched, clock.now(), area=AREA,
                                              preferred_contact_at=START + timedelta(minutes=45)), clock.now())
    feed.send("intake", late, safe_contact(late, clock.now(), met=False), clock.now())  # met late
    feed.send("intake", closed, intake_events.CaseClosed(case_id=closed), clock.now())  # withdrawn
    feed.send("repairs", on_time, repairs_events.WorkOrderCancelled(case_id=on_time, work_order_id="watch-wo-2"),
              clock.now())
    step()
    # Recorded after its due instant with no sweep in between: Breached and Met in one commit.
    clock.set(START + timedelta(minutes=50))
    feed.send("intake", unwatched, safe_contact(unwatched, clock.now(), met=False), clock.now())
    step()

    # The metrics: what counting each clock's Breached and Met, read back, gives.
    counted = _counted()
    assert {name: counted[name] - before[name] for name in METRICS} == pytest.approx(_metrics_from_clocks(app, cases))
    assert _gauges(AREA) == _expected_gauges(app, cases, clock.now())
    # late, closed, overdue (by the watch) and unwatched (by its late stop); late and unwatched met late.
    assert _total("casework_sla_breaches_total", AREA, kind="SAFE_CONTACT") == breaches_before + 4
    assert _total("casework_sla_met_total", AREA, kind="SAFE_CONTACT", outcome="late") == late_before + 2

    # A restart: the store is replayed into memory, nothing is counted again, the same is open.
    restarted = watch_for(app)
    gets.clear()
    restarted.follow(count=False)
    assert gets == []
    assert _watched(restarted) == _watched(watch)
    assert _counted() == counted
    restarted.export(clock.now())
    assert _gauges(AREA) == _expected_gauges(app, cases, clock.now())

    # The area follows the case (AreaSet by case id): later counts and gauges carry the new one.
    feed.send("intake", on_time, intake_events.OwnerReassigned(case_id=on_time, owner_cho="cho-8", area=NEW_AREA),
              clock.now())
    feed.send("risk", on_time, risk_assessed(on_time, START, clock.now(), on_time=True), clock.now())
    met_before = _total("casework_sla_met_total", NEW_AREA, kind="RISK_ASSESSMENT", outcome="on_time")
    step()
    assert _total("casework_sla_met_total", NEW_AREA, kind="RISK_ASSESSMENT", outcome="on_time") == met_before + 1
    assert _total("casework_sla_open_clocks", NEW_AREA, kind="REPAIRS_EMERGENCY") == 1
    assert _total("casework_sla_open_clocks", AREA, kind="REPAIRS_EMERGENCY") == 0


# ----- helpers ----------------------------------------------------------------------------------


class _CountingMapper:
    def __init__(self, mapper: Any) -> None:
        self._mapper = mapper
        self.decoded = 0

    def to_domain_event(self, stored: Any) -> Any:
        self.decoded += 1
        return self._mapper.to_domain_event(stored)


def _safe_contact_due_soon(app: ReportingApplication, prefix: str, count: int = 3) -> tuple[Feed, list[str], datetime]:
    feed = Feed(app)
    cases = [case_id_for(f"{prefix}-{i}") for i in range(count)]
    due = START + timedelta(minutes=30)
    for case in cases:
        feed.send("intake", case, disclosure(case, START, area=AREA, preferred_contact_at=due), START)
    return feed, cases, due


def _safe_contact_clock(case: str) -> UUID:
    return SlaClock.create_id(f"{case}:SAFE_CONTACT")


def test_clocks_about_to_fall_due_are_read_ahead_so_the_sweep_only_records(
    app: ReportingApplication, clock: Any, gets: list[UUID]
) -> None:
    """Thousands of clocks due at one midnight: reading each at the due instant was most of the
    lag. The watch reads them up to a minute before (`arm`), and at the due instant only records."""
    _, cases, due = _safe_contact_due_soon(app, "watch-armed")
    watch = watch_for(app)
    watch.follow()
    gets.clear()
    clock.set(due - seconds(90))
    watch.tick()
    assert gets == []  # not due within the minute yet: nothing read
    clock.set(due - seconds(30))
    watch.tick()
    assert sorted(gets) == sorted(_safe_contact_clock(c) for c in cases)
    gets.clear()
    clock.set(due + seconds(0.5))
    watch.tick()
    assert gets == [] and _breached_clocks(app, cases) == {_safe_contact_clock(c) for c in cases}


def test_arming_takes_turns_with_the_breaches_falling_due_meanwhile(
    app: ReportingApplication, clock: Any, gets: list[UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick arms for a bounded time (then the rest next tick), so loading the next midnight's
    thousands never holds up the breaches of clocks falling due in the minute before it."""
    _, cases, due = _safe_contact_due_soon(app, "watch-arm-turns")
    watch = watch_for(app)
    watch.follow()
    gets.clear()
    monkeypatch.setattr(sla_watch, "ARM_BUDGET_S", 0.0)  # the budget spent by the first load
    clock.set(due - seconds(30))
    loaded = [watch.arm(clock.now()) for _ in cases]
    assert loaded == [1] * len(cases) and watch.arm(clock.now()) == 0  # one a call, none left over
    assert sorted(gets) == sorted(_safe_contact_clock(c) for c in cases)


def test_the_running_watch_records_a_midnight_in_batches_that_take_turns_with_the_relay(
    app: ReportingApplication, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` records the breaches on the event loop's thread (a worker thread waited for the
    interpreter lock after every insert), a batch at a time, and lets other tasks (the relay
    publishing each committed batch) run between batches; it arms ahead as `tick` does."""
    monkeypatch.setattr(sla_watch, "BATCH", 2)
    _, cases, due = _safe_contact_due_soon(app, "watch-run-turns", count=7)
    watch = SlaWatch(app.sla, app.recorder, startup_hold_s=0, tick_s=0.01)
    recording_threads: set[int] = set()
    breach_all_due = app.sla.breach_all_due

    def spied(*args: Any, **kwargs: Any) -> Any:
        recording_threads.add(threading.get_ident())
        return breach_all_due(*args, **kwargs)

    monkeypatch.setattr(app.sla, "breach_all_due", spied)
    clock.set(due - seconds(30))
    seen: list[int] = []  # notifications in the store each time another task gets a turn

    async def relay_like() -> None:
        while True:
            seen.append(app.recorder.max_notification_id() or 0)
            await asyncio.sleep(0)

    async def scenario() -> None:
        running = asyncio.create_task(watch.run())
        try:
            async with asyncio.timeout(10):
                while len(watch._armed) < len(cases):  # read ahead while not yet due
                    await asyncio.sleep(0.01)
                before = app.recorder.max_notification_id() or 0
                other = asyncio.create_task(relay_like())
                clock.set(due + seconds(0.5))
                while len(_breached_clocks(app, cases)) < len(cases):
                    await asyncio.sleep(0.01)
                other.cancel()
        finally:
            running.cancel()
        assert {before + 2, before + 4, before + 6} <= set(seen)  # a turn after each batch of two

    asyncio.run(scenario())
    assert _breached_clocks(app, cases) == {_safe_contact_clock(c) for c in cases}
    assert recording_threads == {threading.get_ident()}  # the loop's thread: this one


def _armed_then_first_met(app: ReportingApplication, clock: Any, prefix: str) -> tuple[SlaWatch, list[str]]:
    """Three clocks armed 30 s before they fall due; then the first is met (the watch not told yet)."""
    feed, cases, due = _safe_contact_due_soon(app, prefix)
    watch = watch_for(app)
    watch.follow()
    clock.set(due - seconds(30))
    watch.tick()
    feed.send("intake", cases[0], safe_contact(cases[0], due - seconds(20), met=True), due - seconds(20))
    clock.set(due + seconds(0.5))
    return watch, cases


def test_an_armed_clock_met_before_its_due_instant_is_not_breached(app: ReportingApplication, clock: Any) -> None:
    watch, cases = _armed_then_first_met(app, clock, "watch-armed-met")
    watch.tick()
    assert _breached_clocks(app, cases) == {_safe_contact_clock(c) for c in cases[1:]}
    assert app.sla.clock(_safe_contact_clock(cases[0])).state == "MET"


def test_an_armed_clock_changed_behind_the_watch_is_read_again_not_saved_over(
    app: ReportingApplication, clock: Any
) -> None:
    """The store refuses a version already taken: a clock met after it was armed, and swept before
    the watch followed that, fails its batch's save; the batch is tried again from the store."""
    watch, cases = _armed_then_first_met(app, clock, "watch-armed-stale")
    assert watch.sweep(clock.now()) == 0  # not followed yet: the armed clock is stale
    watch.tick()
    assert _breached_clocks(app, cases) == {_safe_contact_clock(c) for c in cases[1:]}
    assert app.sla.clock(_safe_contact_clock(cases[0])).state == "MET"


def _clocks(app: ReportingApplication, cases: list[str]) -> list[SlaClock]:
    """The started clocks of those of these cases that have any yet."""
    return [c for case in cases if app.sla.case(case) is not None for c in app.sla.status(case)[1]]


def _open_clocks(app: ReportingApplication, cases: list[str]) -> dict[UUID, tuple[Any, ...]]:
    """The rule the watch kept by replaying each clock: started and not stopped, breached or not."""
    return {
        c.id: (c.kind, c.service, c.case_id, c.due_at, c.breached_at is not None)
        for c in _clocks(app, cases) if c.started and not c.stopped
    }


def _breached_clocks(app: ReportingApplication, cases: list[str]) -> set[UUID]:
    return {c.id for c in _clocks(app, cases) if c.breached_at is not None}


def _watched(watch: SlaWatch) -> dict[UUID, tuple[Any, ...]]:
    return {k: (c.kind, c.service, c.case_id, c.due_at, c.breached) for k, c in watch._open.items()}


def _metrics_from_clocks(app: ReportingApplication, cases: list[str]) -> dict[str, float]:
    out = dict.fromkeys(METRICS, 0.0)
    for c in _clocks(app, cases):
        out["casework_sla_breaches_total"] += c.breached_at is not None
        if c.met_at is not None and c.start is not None:
            out["casework_sla_met_total"] += 1
            out["casework_sla_time_to_meet_seconds_sum"] += max((c.met_at - c.start["started_at"]).total_seconds(), 0)
            out["casework_sla_time_to_meet_seconds_count"] += 1
    return out


def _expected_gauges(app: ReportingApplication, cases: list[str], now: datetime) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for c in _clocks(app, cases):
        if c.started and not c.stopped:
            assert c.due_at is not None
            state = ("overdue" if c.breached_at is not None or now >= c.due_at
                     else "due_soon" if (c.due_at - now).total_seconds() <= m.DUE_SOON_S else "on_track")
            key = (c.kind, c.service, state)
            out[key] = out.get(key, 0) + 1
    return out


def _gauges(area: str) -> dict[tuple[str, ...], float]:
    return {
        (s.labels["kind"], s.labels["service"], s.labels["state"]): s.value
        for metric in REGISTRY.collect() for s in metric.samples
        if s.name == "casework_sla_open_clocks" and s.labels.get("area") == area and s.value
    }


def _counted() -> dict[str, float]:
    """This test's counts. A clock settled by its case's first event (CASE_RECORDED, say) is
    counted before the case's AreaSet follows it in the log, so under the area "unknown" (as it
    was when the watch replayed clocks)."""
    return {name: _total(name, AREA) + _total(name, m.area_label("")) for name in METRICS}


def _total(name: str, area: str, **labels: str) -> float:
    return sum(
        s.value for metric in REGISTRY.collect() for s in metric.samples
        if s.name == name and s.labels.get("area") == area and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _ts(instant: datetime) -> Any:
    from caseplatform.envelope import to_timestamp

    return to_timestamp(instant)
