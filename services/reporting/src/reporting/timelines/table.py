"""The timeline table: one row per timeline entry, keyed and indexed by case, so a case's
timeline (as at any instant) is one indexed query however long the case (ADR 0018).

Rows are a view of the upstream topics, written by reporting's policy in the inbox's own
transaction (ADR 0024): a row commits exactly when its event is marked applied, so reads never
catch up on anything. `rederive` writes rows for events read back from the topics (a rebuild).
Stores written before ADR 0024 recorded each entry as a `TimelineEntry.Recorded` event first;
those are copied into the table once, when the table is opened.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
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


class TimelineTable:
    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._sql = Sql(app)
        self._entries = self._sql.table(TABLE)
        self._positions = self._sql.table("read_model_positions")
        self._topics = [get_topic(TimelineEntry.Recorded)]
        self._lock = threading.Lock()
        columns = "event_id, case_id, occurred_at, recorded_at, service, notification_id, event_type, entry, message"
        insert = f"INSERT INTO {self._entries} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) "
        self._insert = self._dialect(insert + "DO NOTHING")
        self._upsert = self._dialect(
            insert + "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[1:])
        )
        self._create()
        self.copy_recorded_entries()

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
        return bool(self._sql.query(f"SELECT 1 FROM {self._entries} WHERE case_id = ? LIMIT 1", [case_id]))

    def until(self, occurred_before: str) -> list[dict[str, Any]]:
        """Every entry that happened before an instant (for the partnership dataset)."""
        rows = self._sql.query(
            f"SELECT entry FROM {self._entries} WHERE occurred_at < ? "
            "ORDER BY occurred_at, recorded_at, service, notification_id",
            [occurred_before],
        )
        return [json.loads(row[0]) for row in rows]

    def count(self) -> int:
        """Rows in the table (for operations: counts, never content)."""
        return int(self._sql.query(f"SELECT COUNT(*) FROM {self._entries}")[0][0])

    # -- the projection --------------------------------------------------------------------------

    @staticmethod
    def row(e: dict[str, Any]) -> tuple[Any, ...]:
        """An entry (see `entries.entry_from`) as the table's row."""
        return (
            e["event_id"], e["case_id"], e["occurred_at"], e["recorded_at"], e["service"],
            int(e["notification_id"]), e["event_type"], json.dumps(e, sort_keys=True),
            entry_message(e).SerializeToString(deterministic=True),
        )

    def write_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Called in the inbox's transaction (`Unit.add_row`): a redelivered event changes nothing."""
        cursor.executemany(self._insert, list(rows))

    def rederive(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows derived again from events read back from the topics (a rebuild): each replaces
        what the table holds for its event, so a change in how entries are derived reaches every row."""
        with self._sql.cursor(commit=True) as c:
            c.executemany(self._upsert, list(rows))

    def copy_recorded_entries(self) -> int:
        """Copy `TimelineEntry.Recorded` events (stores written before ADR 0024) into the table,
        from the saved position on; returns entries copied. Nothing records them any more."""
        with self._lock:
            position = self._position()
            total = self._app.recorder.max_notification_id() or 0
            copied = 0
            while position < total:
                section = self._app.recorder.select_notifications(
                    start=position + 1, limit=SECTION, stop=total, topics=self._topics
                )
                rows = [self.row(self._app.mapper.to_domain_event(n).entry) for n in section]
                position = section[-1].id if section else total
                with self._sql.cursor(commit=True) as c:
                    if rows:
                        c.executemany(self._insert, rows)
                    c.execute(
                        self._dialect(
                            f"INSERT INTO {self._positions} (name, position) VALUES (?, ?) "
                            "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                        ),
                        [POSITION, position],
                    )
                copied += len(rows)
            return copied

    def _position(self) -> int:
        rows = self._sql.query(f"SELECT position FROM {self._positions} WHERE name = ?", [POSITION])
        return int(rows[0][0]) if rows else 0

    def _dialect(self, statement: str) -> str:
        return statement if self._sql.is_sqlite else statement.replace("?", "%s")
