"""The timeline table: one row per timeline entry, keyed and indexed by case, so a case's
timeline (as at any instant) is one indexed query however long the case (ADR 0018).

The table is a projection of reporting's own store (the `TimelineEntry.Recorded` events), not a
second source of truth: it is brought up to date from the store's notification log before each
read, and can be dropped and rebuilt from it at any time. Writes are idempotent (keyed by the
upstream event id), so a crash between writing rows and saving the position repeats harmlessly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from eventsourcing.utils import get_topic

from caseplatform.store import ServiceApplication, Sql
from reporting.domain.timeline_entry import TimelineEntry
from reporting.timelines.messages import entry_message

# The projection's version: a change of its shape gets a new table and position, filled from
# the store on first use (the old table is left for an operator to drop).
TABLE = "timeline_entries_v2"  # v2: each entry also kept as the contract's serialised message
POSITION = TABLE
SECTION = 500
Progress = Callable[[int, int, int], None]  # (notifications read, total, entries written)


class TimelineTable:
    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._sql = Sql(app)
        self._entries = self._sql.table(TABLE)
        self._positions = self._sql.table("read_model_positions")
        self._topics = [get_topic(TimelineEntry.Recorded)]
        self._lock = threading.Lock()
        self._create()

    def _create(self) -> None:
        self._sql.execute(
            f"CREATE TABLE IF NOT EXISTS {self._entries} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
            "occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, service TEXT NOT NULL, "
            "notification_id BIGINT NOT NULL, event_type TEXT NOT NULL, entry TEXT NOT NULL, "
            f"message {'BLOB' if self._sql.is_sqlite else 'BYTEA'} NOT NULL)"
        )
        self._sql.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_case ON {self._entries} (case_id, occurred_at)")
        self._sql.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_time ON {self._entries} (occurred_at)")
        self._sql.execute(
            f"CREATE TABLE IF NOT EXISTS {self._positions} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
        )

    # -- reads ---------------------------------------------------------------------------------

    def for_case(self, case_id: str, as_at: str | None = None) -> list[dict[str, Any]]:
        """The case's entries in order: by when it happened, then when recorded, source, position.
        With `as_at`, only entries recorded by then (what was known at that moment)."""
        return [json.loads(value) for value in self._case_column("entry", case_id, as_at)]

    def messages_for_case(self, case_id: str, as_at: str | None = None) -> list[bytes]:
        """The same entries, in the same order, as serialised `reporting.v1.TimelineEntry`s."""
        return [bytes(value) for value in self._case_column("message", case_id, as_at)]

    def _case_column(self, column: str, case_id: str, as_at: str | None) -> list[Any]:
        self.catch_up()
        where, params = "case_id = ?", [case_id]
        if as_at is not None:
            where += " AND recorded_at <= ?"
            params.append(as_at)
        rows = self._sql.query(
            f"SELECT {column} FROM {self._entries} WHERE {where} "
            "ORDER BY occurred_at, recorded_at, service, notification_id",
            params,
        )
        return [row[0] for row in rows]

    def has_case(self, case_id: str) -> bool:
        self.catch_up()
        return bool(self._sql.query(f"SELECT 1 FROM {self._entries} WHERE case_id = ? LIMIT 1", [case_id]))

    def until(self, occurred_before: str) -> list[dict[str, Any]]:
        """Every entry that happened before an instant (for the partnership dataset)."""
        self.catch_up()
        rows = self._sql.query(
            f"SELECT entry FROM {self._entries} WHERE occurred_at < ? "
            "ORDER BY occurred_at, recorded_at, service, notification_id",
            [occurred_before],
        )
        return [json.loads(row[0]) for row in rows]

    # -- the projection --------------------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> int:
        """Apply the store's entries recorded since the saved position; returns entries written."""
        with self._lock:
            position = self._position()
            total = self._app.recorder.max_notification_id() or 0
            written = 0
            while position < total:
                section = self._app.recorder.select_notifications(
                    start=position + 1, limit=SECTION, stop=total, topics=self._topics
                )
                rows = [self._row(self._app.mapper.to_domain_event(n)) for n in section]
                position = section[-1].id if section else total
                self._write(rows, position)
                written += len(rows)
                if progress is not None:
                    progress(position, total, written)
            return written

    def rebuild(self, progress: Progress | None = None) -> int:
        with self._lock, self._sql.cursor(commit=True) as c:
            c.execute(f"DELETE FROM {self._entries}")
            c.execute(self._dialect(f"DELETE FROM {self._positions} WHERE name = ?"), [POSITION])
        return self.catch_up(progress)

    @staticmethod
    def _row(recorded: Any) -> tuple[Any, ...]:
        e = recorded.entry
        return (
            e["event_id"], e["case_id"], e["occurred_at"], e["recorded_at"], e["service"],
            int(e["notification_id"]), e["event_type"], json.dumps(e, sort_keys=True),
            entry_message(e).SerializeToString(deterministic=True),
        )

    def _write(self, rows: list[tuple[Any, ...]], position: int) -> None:
        with self._sql.cursor(commit=True) as c:
            for row in rows:
                c.execute(
                    self._dialect(
                        f"INSERT INTO {self._entries} (event_id, case_id, occurred_at, recorded_at, service, "
                        "notification_id, event_type, entry, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (event_id) DO NOTHING"
                    ),
                    row,
                )
            c.execute(
                self._dialect(
                    f"INSERT INTO {self._positions} (name, position) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                ),
                [POSITION, position],
            )

    def _position(self) -> int:
        rows = self._sql.query(f"SELECT position FROM {self._positions} WHERE name = ?", [POSITION])
        return int(rows[0][0]) if rows else 0

    def _dialect(self, statement: str) -> str:
        return statement if self._sql.is_sqlite else statement.replace("?", "%s")
