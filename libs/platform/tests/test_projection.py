"""Read-model rows written in the inbox's transaction (ADR 0024): committed with the tracking
record or not at all, so they are exactly-once without events of their own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Inbox, Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import Sql

from .fakes import CounterApp, incoming


class SeenTable:
    """A one-column read model: the upstream events a policy has seen."""

    def __init__(self, app: CounterApp) -> None:
        self.sql = Sql(app)
        self.name = self.sql.table("seen_rows")  # in the service's own schema on PostgreSQL
        self.sql.execute(f"CREATE TABLE IF NOT EXISTS {self.name} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL)")
        self.failures_to_come = 0

    def write_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        statement = f"INSERT INTO {self.name} (event_id, case_id) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING"
        cursor.executemany(statement if self.sql.is_sqlite else statement.replace("?", "%s"), list(rows))
        if self.failures_to_come:
            self.failures_to_come -= 1
            raise IntegrityError("another replica recorded this run first")

    def rows(self) -> list[tuple[str, str]]:
        return sorted(self.sql.query(f"SELECT event_id, case_id FROM {self.name}"))


@pytest.fixture
def table(settings: PlatformSettings) -> tuple[CounterApp, SeenTable, Inbox]:
    app = CounterApp("counter", settings)
    seen = SeenTable(app)

    def policy(event: IncomingEvent, unit: Unit) -> None:
        unit.add_row(seen, (event.envelope.event_id, event.case_id))

    return app, seen, Inbox(app, policy)


def test_rows_commit_with_the_position(table: tuple[CounterApp, SeenTable, Inbox]) -> None:
    app, seen, inbox = table
    run = [incoming("a", 1, 0), incoming("b", 2, 1)]
    inbox.apply("intake", 0, run)
    assert seen.rows() == sorted((e.envelope.event_id, e.case_id) for e in run)
    assert inbox.tracked("intake", 0) == 2
    assert app.recorder.max_notification_id() in (None, 0), "a view writes rows, not events"


def test_redelivery_writes_nothing_twice(table: tuple[CounterApp, SeenTable, Inbox]) -> None:
    _, seen, inbox = table
    run = [incoming("a", 1, 0), incoming("a", 2, 1)]
    inbox.apply("intake", 0, run)
    again = inbox.apply("intake", 0, run)
    assert again.duplicates == 2 and len(seen.rows()) == 2


def test_a_failed_commit_leaves_neither_rows_nor_position(table: tuple[CounterApp, SeenTable, Inbox]) -> None:
    _, seen, inbox = table
    # Each attempt fails after its rows were written in the transaction; the inbox retries a
    # concurrent write three times, then gives up: nothing of the run may remain.
    seen.failures_to_come = 3
    with pytest.raises(RuntimeError):
        inbox.apply("intake", 0, [incoming("a", 1, 0)])
    assert seen.rows() == [] and inbox.tracked("intake", 0) == 0
    # Redelivered later, it applies once.
    assert inbox.apply("intake", 0, [incoming("a", 1, 0)]).processed == 1
    assert len(seen.rows()) == 1 and inbox.tracked("intake", 0) == 1
