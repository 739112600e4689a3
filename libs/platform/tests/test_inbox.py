"""The inbox applies each upstream event exactly once, in chain order, atomically with tracking."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from caseplatform.identity import Actor
from caseplatform.inbox import REPLAYED, SET_ASIDE, Inbox, NotSetAside, PolicyFailed
from caseplatform.settings import PlatformSettings

from .fakes import Counter, CounterApp, incoming


@pytest.fixture
def app(settings: PlatformSettings) -> CounterApp:
    return CounterApp("counter", settings)


@pytest.fixture
def inbox(app: CounterApp) -> Inbox:
    return Inbox(app, app.policy)


OPERATOR = Actor(agency="landlord", role="operations", user="ops-7")


def seen(app: CounterApp, case_id: str) -> list[str]:
    return app.repository.get(Counter.create_id(case_id)).seen


def test_a_run_is_applied_in_one_transaction_with_its_position(app: CounterApp, inbox: Inbox) -> None:
    run = [incoming("a", 1, 0), incoming("a", 4, 1), incoming("b", 9, 4)]
    outcome = inbox.apply("intake", 0, run)
    assert outcome.processed == 3
    assert inbox.tracked("intake", 0) == 9
    assert len(seen(app, "a")) == 2  # two messages in one batch touched the same aggregate
    assert len(seen(app, "b")) == 1


def test_redelivery_and_republish_change_nothing(app: CounterApp, inbox: Inbox) -> None:
    run = [incoming("a", 1, 0), incoming("a", 2, 1)]
    inbox.apply("intake", 0, run)
    before = app.recorder.max_notification_id()
    again = inbox.apply("intake", 0, run + run)
    assert again.processed == 0 and again.duplicates == 4
    assert app.recorder.max_notification_id() == before
    assert len(seen(app, "a")) == 2


def test_a_gap_is_held_back_until_the_missing_message_arrives(app: CounterApp, inbox: Inbox) -> None:
    inbox.apply("intake", 0, [incoming("a", 1, 0)])
    held = inbox.apply("intake", 0, [incoming("a", 5, 3)])  # 3 never arrived
    assert held.gaps == 1 and held.processed == 0
    assert inbox.tracked("intake", 0) == 1
    healed = inbox.apply("intake", 0, [incoming("a", 3, 1), incoming("a", 5, 3)])
    assert healed.processed == 2
    assert len(seen(app, "a")) == 3


def test_partitions_and_sources_are_tracked_separately(inbox: Inbox) -> None:
    inbox.apply("intake", 0, [incoming("a", 1, 0)])
    inbox.apply("intake", 1, [incoming("b", 2, 0, partition=1)])
    inbox.apply("risk", 0, [incoming("a", 1, 0, source="risk")])
    assert (inbox.tracked("intake", 0), inbox.tracked("intake", 1), inbox.tracked("risk", 0)) == (1, 2, 1)


def test_a_poison_event_is_dead_lettered_and_the_partition_carries_on(app: CounterApp, inbox: Inbox) -> None:
    run = [incoming("a", 1, 0), incoming("a", 2, 1, tenant_ref="POISON"), incoming("a", 3, 2)]
    outcome = inbox.apply("intake", 0, run)
    assert [e.notification_id for e, _ in outcome.dead_letters] == [2]
    assert "cannot apply this one" in outcome.dead_letters[0][1]
    assert outcome.processed == 2
    assert inbox.tracked("intake", 0) == 3
    assert len(seen(app, "a")) == 2


def test_a_stepped_over_event_is_replayed_once_the_defect_is_fixed_and_only_once(app: CounterApp, inbox: Inbox) -> None:
    poison = incoming("b", 2, 1, tenant_ref="POISON")
    assert inbox.pending_dead_letters() == 0
    inbox.apply("intake", 0, [incoming("a", 1, 0), poison, incoming("a", 3, 2)])
    assert inbox.set_aside_state(0, poison) == SET_ASIDE  # recorded in the step's own commit
    assert inbox.pending_dead_letters() == 1

    with pytest.raises(PolicyFailed, match="cannot apply this one"):
        inbox.replay(0, poison, OPERATOR)  # the defect is not fixed yet: nothing recorded
    assert inbox.set_aside_state(0, poison) == SET_ASIDE
    assert inbox.replay_record(0, poison) is None
    assert app.repository.get(Counter.create_id("a")).version == 3  # untouched

    app.refuses = None  # the fixed build
    assert inbox.replay(0, poison, OPERATOR) is True
    assert seen(app, "b") == [poison.envelope.event_id]
    assert inbox.pending_dead_letters() == 0
    assert inbox.set_aside_state(0, poison) == REPLAYED
    assert inbox.replay(0, poison, Actor("landlord", "operations", "ops-8")) is False  # asked again
    assert seen(app, "b") == [poison.envelope.event_id]
    assert inbox.tracked("intake", 0) == 3  # the partition's position is not the replay's business

    # Who asked is in the store, with what the replay applied: a record of the replay (the
    # first asker's, once) and, on every event the replay caused, beside the policy's own actor.
    record = inbox.replay_record(0, poison)
    assert record is not None and record.version == 1
    assert (record.requested_by, record.case_id, record.event_id) == (OPERATOR, "b", poison.envelope.event_id)
    caused = list(app.events.get(Counter.create_id("b")))
    assert caused and all(e.meta["replay_requested_by"] == OPERATOR.as_dict() for e in caused)
    assert all(e.meta["actor"]["role"] == "system" for e in caused)
    assert all("replay_requested_by" not in e.meta for e in app.events.get(Counter.create_id("a")))


def test_a_replay_of_an_event_that_was_applied_is_refused(app: CounterApp, inbox: Inbox) -> None:
    # A dead letter published just before a crash, then the event applied when read again:
    # the store has no record of stepping over it, so replaying it would apply it twice.
    applied = incoming("a", 1, 0)
    inbox.apply("intake", 0, [applied])
    assert inbox.set_aside_state(0, applied) is None
    with pytest.raises(NotSetAside):
        inbox.replay(0, applied, OPERATOR)
    assert inbox.replay_record(0, applied) is None
    assert seen(app, "a") == [applied.envelope.event_id]


@pytest.mark.parametrize("trouble", [
    OperationalError("the connection to the server was lost"),  # the library's, wrapping psycopg's
    sqlite3.OperationalError("disk I/O error"),  # raw, from a read-model query in a policy
    psycopg.OperationalError("server closed the connection unexpectedly"),
])
def test_a_store_failing_under_a_policy_fails_the_batch_and_sets_nothing_aside(
    app: CounterApp, inbox: Inbox, monkeypatch: pytest.MonkeyPatch, trouble: Exception
) -> None:
    # The store, not the event: dead-lettering it would step over an event that is fine.
    real_get, failed = app.repository.get, []

    def flaky(*args: object, **kwargs: object) -> object:
        if not failed:
            failed.append(trouble)
            raise trouble
        return real_get(*args, **kwargs)

    monkeypatch.setattr(app.repository, "get", flaky)
    run = [incoming("a", 1, 0), incoming("a", 2, 1)]
    with pytest.raises(type(trouble)):
        inbox.apply("intake", 0, run)
    assert inbox.tracked("intake", 0) == 0 and inbox.set_aside_state(0, run[0]) is None
    assert inbox.apply("intake", 0, run).processed == 2  # read again once the store answers
    assert len(seen(app, "a")) == 2


NEWER_CHANNEL = 97  # a value a newer intake could add to intake.v1.Channel: unknown to this build


def test_an_event_not_understood_yet_holds_its_partition_until_a_build_that_does(app: CounterApp, inbox: Inbox) -> None:
    """ADR 0038: not dead-lettered (its effect would be lost) nor guessed at, but held — what
    came before is applied, nothing after it, and the same run applies whole once understood."""
    run = [incoming("a", 1, 0), incoming("a", 2, 1, channel=NEWER_CHANNEL), incoming("a", 3, 2)]
    held = inbox.apply("intake", 0, run)
    assert (held.processed, held.held_at, held.dead_letters) == (1, 1, [])
    assert inbox.tracked("intake", 0) == 1 and len(seen(app, "a")) == 1
    again = inbox.apply("intake", 0, run[1:])  # tried again: still held, still nothing lost
    assert (again.processed, again.held_at, inbox.tracked("intake", 0)) == (0, 0, 1)

    app.understands_channel = NEWER_CHANNEL  # the upgraded build
    upgraded = inbox.apply("intake", 0, run[1:])
    assert (upgraded.processed, upgraded.held_at) == (2, None)
    assert inbox.tracked("intake", 0) == 3 and len(seen(app, "a")) == 3


def test_a_held_partition_in_a_batch_spares_the_others(app: CounterApp, inbox: Inbox) -> None:
    outcomes = inbox.apply_batch({
        ("intake", 0): [incoming("a", 1, 0, channel=NEWER_CHANNEL), incoming("a", 2, 1)],
        ("intake", 1): [incoming("b", 1, 0, partition=1)],
    })
    assert (outcomes[("intake", 0)].held_at, outcomes[("intake", 0)].processed) == (0, 0)
    assert (outcomes[("intake", 1)].held_at, outcomes[("intake", 1)].processed) == (None, 1)
    assert (inbox.tracked("intake", 0), inbox.tracked("intake", 1)) == (0, 1)


def test_events_recorded_by_a_policy_name_the_event_that_caused_them(app: CounterApp, inbox: Inbox) -> None:
    event = incoming("a", 1, 0)
    inbox.apply("intake", 0, [event])
    notification = app.recorder.select_notifications(start=1, limit=1)[0]
    stored = app.mapper.to_domain_event(notification)
    assert stored.meta["caused_by"] == event.envelope.event_id
    assert stored.meta["actor"]["role"] == "system"
    assert stored.meta["caused_by_actor"]["role"] == "CHO"


def test_state_survives_a_restart_of_the_process(settings: PlatformSettings) -> None:
    first = CounterApp("counter", settings)
    Inbox(first, first.policy).apply("intake", 0, [incoming("a", 1, 0)])
    second = CounterApp("counter", settings)
    outcome = Inbox(second, second.policy).apply("intake", 0, [incoming("a", 1, 0), incoming("a", 2, 1)])
    assert (outcome.duplicates, outcome.processed) == (1, 1)


def test_an_unreadable_payload_is_dead_lettered_in_its_place(app: CounterApp, inbox: Inbox) -> None:
    from dataclasses import replace

    broken = replace(incoming("a", 2, 1), payload=None, payload_error="DecodeError: truncated")
    outcome = inbox.apply("intake", 0, [incoming("a", 1, 0), broken, incoming("a", 3, 2)])
    assert [(e.notification_id, "truncated" in r) for e, r in outcome.dead_letters] == [(2, True)]
    assert inbox.tracked("intake", 0) == 3  # the partition carries on past it
    assert len(seen(app, "a")) == 2


def test_a_dead_letter_is_parked_before_the_inbox_steps_over_it(app: CounterApp) -> None:
    parked: list[tuple[int, int]] = []

    def park(source: str, partition: int, event, reason: str) -> None:
        parked.append((event.notification_id, Inbox(app, app.policy).tracked(source, partition)))

    inbox = Inbox(app, app.policy, park=park)
    inbox.apply("intake", 0, [incoming("a", 1, 0), incoming("a", 2, 1, tenant_ref="POISON")])
    assert parked == [(2, 1)]  # parked while the position still stood before it
    assert inbox.tracked("intake", 0) == 2


def test_if_parking_fails_the_poison_event_is_not_stepped_over(app: CounterApp) -> None:
    def broker_down(*_: object) -> None:
        raise TimeoutError("dead-letter topic unreachable")

    inbox = Inbox(app, app.policy, park=broker_down)
    with pytest.raises(TimeoutError):
        inbox.apply("intake", 0, [incoming("a", 1, 0), incoming("a", 2, 1, tenant_ref="POISON")])
    assert inbox.tracked("intake", 0) == 1  # redelivery will try again; nothing is lost


class SnapshottingCounterApp(CounterApp):
    snapshotting_intervals = {Counter: 3}  # noqa: RUF012 - the library's class-level setting


def test_an_aggregate_configured_for_snapshots_gets_them_from_the_inbox_too(settings: PlatformSettings) -> None:
    # A growing aggregate (e.g. a MARAC area) changed only by policies must not be replayed from
    # its first event for ever: the inbox takes the snapshots `save` would.
    app = SnapshottingCounterApp("counter", settings)
    inbox = Inbox(app, app.policy)
    inbox.apply("intake", 0, [incoming("a", n, n - 1) for n in range(1, 8)])
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(Counter.create_id("a")))
    assert [s.originator_version for s in snapshots] == [3, 6]
    assert app.repository.get(Counter.create_id("a")).seen == seen(app, "a")
    assert len(seen(app, "a")) == 7


def test_a_batch_across_partitions_and_sources_commits_once_with_every_position(app: CounterApp, inbox: Inbox) -> None:
    commits: list[object] = []
    app.on_recorded(commits.append)
    batch = {
        ("intake", 0): [incoming("a", 1, 0), incoming("a", 2, 1)],
        ("intake", 1): [incoming("b", 1, 0, partition=1)],
        ("risk", 2): [incoming("a", 7, 0, partition=2, source="risk")],
    }
    outcomes = inbox.apply_batch(batch)
    assert {key: o.processed for key, o in outcomes.items()} == {("intake", 0): 2, ("intake", 1): 1, ("risk", 2): 1}
    assert len(commits) == 1  # one transaction for the whole batch
    assert (inbox.tracked("intake", 0), inbox.tracked("intake", 1), inbox.tracked("risk", 2)) == (2, 1, 7)
    assert len(seen(app, "a")) == 3  # the second partition's event saw the first's pending change
    again = inbox.apply_batch(batch)
    assert sum(o.duplicates for o in again.values()) == 4 and sum(o.processed for o in again.values()) == 0
    assert len(commits) == 1


def test_a_poison_event_in_a_batch_spares_the_other_partitions(app: CounterApp, inbox: Inbox) -> None:
    outcomes = inbox.apply_batch({
        ("intake", 0): [incoming("a", 1, 0), incoming("a", 2, 1, tenant_ref="POISON"), incoming("a", 3, 2)],
        ("intake", 1): [incoming("b", 1, 0, partition=1)],
    })
    assert [e.notification_id for e, _ in outcomes[("intake", 0)].dead_letters] == [2]
    assert (outcomes[("intake", 0)].processed, outcomes[("intake", 1)].processed) == (2, 1)
    assert (inbox.tracked("intake", 0), inbox.tracked("intake", 1)) == (3, 1)
    assert (len(seen(app, "a")), len(seen(app, "b"))) == (2, 1)


def test_a_gap_in_one_partition_of_a_batch_holds_back_only_that_partition(inbox: Inbox) -> None:
    outcomes = inbox.apply_batch({
        ("intake", 0): [incoming("a", 5, 3)],  # 1..3 never arrived
        ("intake", 1): [incoming("b", 1, 0, partition=1)],
    })
    assert (outcomes[("intake", 0)].gaps, outcomes[("intake", 1)].processed) == (1, 1)
    assert (inbox.tracked("intake", 0), inbox.tracked("intake", 1)) == (0, 1)


def test_a_big_batch_is_split_into_units_of_whole_runs(app: CounterApp, monkeypatch: pytest.MonkeyPatch) -> None:
    import caseplatform.inbox as inbox_module

    monkeypatch.setattr(inbox_module, "UNIT_EVENTS", 3)
    commits: list[object] = []
    app.on_recorded(commits.append)
    batch = {("intake", p): [incoming(f"c{p}", n, n - 1, partition=p) for n in (1, 2)] for p in range(3)}
    outcomes = Inbox(app, app.policy).apply_batch(batch)
    assert sum(o.processed for o in outcomes.values()) == 6
    assert len(commits) == 3  # 2 + 2 > 3: each run its own unit, never a run cut in two


def test_a_batch_applies_events_across_partitions_in_the_order_their_sources_recorded_them(
    app: CounterApp, inbox: Inbox,
) -> None:
    # risk's run first in the batch, but intake recorded its event earlier (a disclosure, then
    # the assessment of it): the policy sees the disclosure first, each partition's order kept.
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2027, 3, 26, 17, 31, tzinfo=UTC)
    assessed = incoming("a", 7, 0, source="risk", recorded_at=t0 + timedelta(seconds=2))
    disclosed = incoming("a", 1, 0, recorded_at=t0)
    corrected = incoming("a", 2, 1, recorded_at=t0 + timedelta(seconds=3))
    inbox.apply_batch({("risk", 0): [assessed], ("intake", 0): [disclosed, corrected]})
    order = [e.envelope.event_id for e in (disclosed, assessed, corrected)]
    assert seen(app, "a") == order
