"""The timeline table: one row per timeline entry, keyed and indexed by case, so a case's
timeline (as at any instant) is one indexed query however long the case (ADR 0018).

Rows are a view of the upstream topics, written by reporting's policy in the inbox's own
transaction (ADR 0024): a row commits exactly when its event is marked applied, so reads never
catch up on anything. A rebuild (`rebuild.py`) stages rows read again from the topics in a
table of their own and swaps it in whole (`swap_in`), so readers see the old rows or the new
ones, never a table half-way, and a rebuild cut short leaves the live rows as they were. A row
keeps the event's envelope as published and the entry derived from it, or — staged by a
rebuild — no entry, derived when read (ADR 0042).

Earlier shapes are copied in once, when the table is opened: rows of `timeline_entries_v3`
(ADR 0025: the entry and the payload), of `timeline_entries_v2` (ADR 0024: the dict view stored
as JSON) and, from stores written before ADR 0024, `TimelineEntry.Recorded` events, each made an
envelope again (`entries.stored_envelope`). The old tables are left for an operator to drop.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Collection, Sequence
from typing import Any

from eventsourcing.utils import get_topic

from caseplatform.store import ServiceApplication, Sql
from casework.common.v1 import envelope_pb2
from casework.reporting.v1.reporting_pb2 import TimelineEntry
from reporting.backfill import (
    POSITIONS,
    copy_from_events,
    ensure_positions,
    save_position,
    saved_position,
)
from reporting.domain.timeline_entry import TimelineEntry as RecordedEntry
from reporting.timelines.entries import (
    Row,
    entry_bytes,
    entry_dict,
    ns_of,
    ns_of_iso,
    payload_from_details,
    stored_envelope,
)
from reporting.timelines.messages import instant_of

TABLE = "timeline_entries_v4"  # v4: the envelope as published, and the entry when written live (ADR 0042)
PREVIOUS = "timeline_entries_v3"  # the entry and the payload (ADR 0025)
OLDER = "timeline_entries_v2"  # the dict view as JSON (ADR 0024)
POSITION = "timeline_entries_v3"  # how far the TimelineEntry.Recorded events have been copied (kept by name)
SECTION = 500
# Set (a count that grows) whenever rows without entries join the table — a rebuild's swap, an
# earlier table's rows copied in — and cleared by the pass that fills their entries in (`fill.py`).
UNFILLED = f"{TABLE}:unfilled"
# A row's envelope is read only where it has no entry to answer with (a rebuilt row).
# Where the background pass has got to: a rowid on SQLite, an event id on PostgreSQL (`fill_section`).
FillPosition = int | str | None
ENVELOPE_IF_NO_ENTRY = "CASE WHEN length(entry) = 0 THEN envelope END"
# PostgreSQL: each transaction writing a case's rows notifies this channel with the case id, so
# watchers on other replicas hear of the commit (ADR 0036).
CHANNEL = "casework_reporting_timeline"
COLUMNS = ("event_id", "case_id", "occurred_at", "recorded_at", "service", "notification_id", "event_type", "envelope",
           "entry")


class TimelineTable:
    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._sql = Sql(app)
        self._entries = self._sql.table(TABLE)
        self._topics = [get_topic(RecordedEntry.Recorded)]
        self._lock = threading.Lock()
        columns = ", ".join(COLUMNS)
        values = ", ".join("?" for _ in COLUMNS)
        self._insert = self._sql.dialect(
            f"INSERT INTO {self._entries} ({columns}) VALUES ({values}) ON CONFLICT (event_id) DO NOTHING"
        )
        self._create()
        self.copy_previous_rows()
        self.copy_recorded_entries()

    def _create(self) -> None:
        self._sql.execute(f"CREATE TABLE IF NOT EXISTS {self._entries} {self._definition()}")
        for statement in self._indexes(self._entries, if_not_exists=True):
            self._sql.execute(statement)
        ensure_positions(self._sql)

    def _definition(self) -> str:
        # Unique by event through an index, not a PRIMARY KEY: a staged table (a rebuild) is
        # filled with none and given the same index at the end, which a key cannot be.
        blob = "BLOB" if self._sql.is_sqlite else "BYTEA"
        return (
            "(event_id TEXT NOT NULL, case_id TEXT NOT NULL, occurred_at BIGINT NOT NULL, recorded_at BIGINT NOT NULL, "
            f"service TEXT NOT NULL, notification_id BIGINT NOT NULL, event_type TEXT NOT NULL, envelope {blob} NOT NULL, "
            f"entry {blob} NOT NULL)"
        )

    def _indexes(self, table: str, if_not_exists: bool = False) -> list[str]:
        exists = "IF NOT EXISTS " if if_not_exists else ""
        indexes = [
            f"CREATE UNIQUE INDEX {exists}{TABLE}_by_event ON {table} (event_id)",
            f"CREATE INDEX {exists}{TABLE}_by_case ON {table} (case_id, occurred_at)",
            f"CREATE INDEX {exists}{TABLE}_by_time ON {table} (occurred_at)",
        ]
        if not self._sql.is_sqlite:
            # The rows the background pass has still to fill, in its order (`fill_section`). Without
            # it PostgreSQL's planner, taking `length(entry) = 0` for rare, read the whole table at
            # each section for some table sizes (performance.md). Live rows have entries: never in it.
            indexes.append(f"CREATE INDEX {exists}{TABLE}_to_fill ON {table} (event_id) WHERE length(entry) = 0")
        return indexes

    # -- reads ---------------------------------------------------------------------------------

    def for_case(self, case_id: str, as_at: str | None = None) -> list[dict[str, Any]]:
        """The case's entries in order: by when it happened, then when recorded, source, position.
        With `as_at`, only entries recorded by then (what was known at that moment)."""
        return [e for value, entry in self._case_columns("envelope, entry", case_id, as_at)
                if (e := entry_dict(bytes(value), bytes(entry)))]

    def messages_for_case(self, case_id: str, as_at: str | None = None) -> list[bytes]:
        """The same entries, in the same order, as serialised `reporting.v1.TimelineEntry`s."""
        return [m for entry, value in self._case_columns(f"entry, {ENVELOPE_IF_NO_ENTRY}", case_id, as_at)
                if (m := entry_bytes(value, entry))]

    def keyed_messages_for_case(self, case_id: str, known: Collection[str] = ()) -> list[tuple[str, str, bytes]]:
        """(event_id, event_type, message) of the case's entries, in timeline order, but for those
        `known` (a watch's entries already sent: not derived again at each commit)."""
        return [
            (str(i), str(t), m)
            for i, t, entry, value in self._case_columns(f"event_id, event_type, entry, {ENVELOPE_IF_NO_ENTRY}", case_id, None)
            if i not in known and (m := entry_bytes(value, entry))
        ]

    def _case_columns(self, columns: str, case_id: str, as_at: str | None) -> list[tuple[Any, ...]]:
        where, params = "case_id = ?", [case_id]
        if as_at is not None:
            where += " AND recorded_at <= ?"
            params.append(ns_of_iso(as_at))
        return self._sql.query(
            f"SELECT {columns} FROM {self._entries} WHERE {where} "
            "ORDER BY occurred_at, recorded_at, service, notification_id",
            params,
        )

    def has_case(self, case_id: str) -> bool:
        return bool(self._sql.query(f"SELECT 1 FROM {self._entries} WHERE case_id = ? LIMIT 1", [case_id]))

    def until(self, occurred_before: str) -> list[dict[str, Any]]:
        """Every entry that happened before an instant (for the partnership dataset)."""
        rows = self._sql.query(
            f"SELECT envelope, entry FROM {self._entries} "
            "WHERE occurred_at < ? ORDER BY occurred_at, recorded_at, service, notification_id",
            [ns_of_iso(occurred_before)],
        )
        return [e for value, entry in rows if (e := entry_dict(bytes(value), bytes(entry)))]

    def rows_to_fill(self) -> int:
        """Rows without an entry, derived at each read until the background pass fills them in (for
        operations: a count). None while the table is not marked: no scan of the table at each ask."""
        if not self.unfilled_mark():
            return 0
        return int(self._sql.query(f"SELECT COUNT(*) FROM {self._entries} WHERE length(entry) = 0")[0][0])

    def count(self) -> int:
        """Rows in the table (for operations: counts, never content)."""
        return int(self._sql.query(f"SELECT COUNT(*) FROM {self._entries}")[0][0])

    # -- the projection --------------------------------------------------------------------------

    def write_rows(self, cursor: Any, rows: Sequence[Row]) -> None:
        """Called in the inbox's transaction (`Unit.add_row`): a redelivered event changes nothing."""
        cursor.executemany(self._insert, list(rows))
        if not self._sql.is_sqlite:  # delivered when the transaction commits, and only then
            for case_id in {row.case_id for row in rows}:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, case_id])

    # -- a rebuild: rows staged in a table of their own, swapped in whole --------------------------

    def open_staging(self) -> str:
        """A new, empty table for a rebuild's rows (a name of its own: two rebuilds never share one)."""
        staging = f"{TABLE}_rebuild_{secrets.token_hex(4)}"
        self._sql.execute(f"CREATE TABLE {self._sql.table(staging)} {self._definition()}")
        return staging

    def stage(self, staging: str, rows: Sequence[Row]) -> None:
        stage_rows(self._sql, staging, rows)

    @property
    def app(self) -> ServiceApplication:
        return self._app

    def swap_in(self, staging: str) -> int:
        """Make the staged rows the table, in one transaction; returns the rows it then holds.

        Duplicates (an event published twice) keep one row; rows the live table has and the
        rebuild did not derive (events published after it began, written by the live consumer
        meanwhile) are kept; then the staged table takes the live one's name and indexes."""
        staged, live, columns = self._sql.table(staging), self._entries, ", ".join(COLUMNS)
        with self._sql.cursor(commit=True) as c:
            if not self._sql.is_sqlite:  # the live consumer waits for the swap, not writing into a table being replaced
                c.execute(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")
            else:  # the index builds below sort on every core: a million rows' indexes 2.8 → 2.3 s
                c.execute(f"PRAGMA threads = {min(os.cpu_count() or 1, 4)}")
            # The live table's unique index goes first, so the staged table can be given it by
            # name (SQLite cannot rename an index): built once, used for the carry-over below.
            unique, *others = self._indexes(staged)
            c.execute(f"DROP INDEX {self._sql.table(TABLE)}_by_event")
            c.execute("SAVEPOINT unique_by_event")
            try:
                c.execute(unique)
            except Exception:  # noqa: BLE001 - an event published twice (a relay replay): keep one row
                c.execute("ROLLBACK TO SAVEPOINT unique_by_event")
                if self._sql.is_sqlite:
                    c.execute(f"DELETE FROM {staged} WHERE rowid NOT IN (SELECT MAX(rowid) FROM {staged} GROUP BY event_id)")
                else:
                    c.execute(f"DELETE FROM {staged} a USING {staged} b WHERE a.event_id = b.event_id AND a.ctid < b.ctid")
                c.execute(unique)
            c.execute("RELEASE SAVEPOINT unique_by_event")
            c.execute(f"INSERT INTO {staged} ({columns}) SELECT {columns} FROM {live} WHERE true ON CONFLICT (event_id) DO NOTHING")
            c.execute(f"DROP TABLE {live}")
            c.execute(f"ALTER TABLE {staged} RENAME TO {TABLE}")
            for statement in others:
                c.execute(statement.replace(f" ON {staged} ", f" ON {live} "))
            self._mark_unfilled(c)  # the staged rows have no entries yet (ADR 0042)
            c.execute(f"SELECT COUNT(*) AS n FROM {live}")
            row = c.fetchone()
            return int(row[0] if self._sql.is_sqlite else row["n"])

    # -- entries filled in where a row has none (ADR 0042) ------------------------------------------

    def unfilled_mark(self) -> int:
        """Non-zero while rows without entries may be in the table (see `UNFILLED`)."""
        return saved_position(self._sql, UNFILLED)

    def mark_unfilled(self) -> None:
        with self._sql.cursor(commit=True) as c:
            self._mark_unfilled(c)

    def _mark_unfilled(self, cursor: Any) -> None:
        cursor.execute(
            self._sql.dialect(
                f"INSERT INTO {self._sql.table(POSITIONS)} (name, position) VALUES (?, 1) "
                f"ON CONFLICT (name) DO UPDATE SET position = {self._sql.table(POSITIONS)}.position + 1"
            ),
            [UNFILLED],
        )

    def fill_section(self, after: FillPosition = None, size: int = SECTION) -> tuple[FillPosition, int, bool]:
        """Derive and store the entries of up to `size` rows without one, after position `after`
        (None: from the start): (the last position looked at, entries stored, whether rows remain).
        A row whose event no timeline shows (its payload unreadable by this build) is left as it
        is; so is a row that gained an entry meanwhile.

        SQLite goes in storage order (rowid): a rebuild's rows lie in the order it staged them,
        and event id order would rewrite them page by page at random, ~5 times slower (ADR 0042).
        A row's rowid is checked with its event id, so a rowid reused meanwhile is never written.
        PostgreSQL goes in event id order: a row's physical place changes with each update."""
        sqlite = self._sql.is_sqlite
        statement, start = self.section_query(size)
        section = self._sql.query(statement, [start if after is None else after])
        if not section:
            return after, 0, False
        found = [(entry, position, str(event_id)) for position, event_id, value in section
                 if (entry := entry_bytes(bytes(value)))]
        if found:
            guard, params = ("rowid = ? AND event_id = ?", found) if sqlite else ("event_id = ?", [(e, i) for e, _, i in found])
            with self._sql.cursor(commit=True) as c:
                c.executemany(
                    self._sql.dialect(f"UPDATE {self._entries} SET entry = ? WHERE {guard} AND length(entry) = 0"), params
                )
        last = section[-1][0]
        return (int(last) if sqlite else str(last)), len(found), len(section) == size

    def section_query(self, size: int = SECTION) -> tuple[str, int | str]:
        """The pass's read of a section (its order: see `fill_section`), and where it starts."""
        key, start = ("rowid", 0) if self._sql.is_sqlite else ("event_id", "")
        return (
            f"SELECT {key} AS position, event_id, envelope FROM {self._entries} WHERE {key} > ? AND length(entry) = 0 "
            f"ORDER BY {key} LIMIT {int(size)}"
        ), start

    def clear_unfilled(self, mark: int) -> bool:
        """Clear the mark a fill began with, unless rows without entries joined since (a new mark)."""
        with self._sql.cursor(commit=True) as c:
            c.execute(
                self._sql.dialect(f"UPDATE {self._sql.table(POSITIONS)} SET position = 0 WHERE name = ? AND position = ?"),
                [UNFILLED, mark],
            )
        return self.unfilled_mark() == 0

    def drop_staging(self, staging: str) -> None:
        """A rebuild that did not finish leaves the live table as it was."""
        self._sql.execute(f"DROP TABLE IF EXISTS {self._sql.table(staging)}")

    # -- earlier shapes, copied in once ------------------------------------------------------------

    def copy_previous_rows(self) -> int:
        """Copy the rows of earlier tables (v3, else v2) into this one once; returns rows copied."""
        with self._lock:
            copied = 0
            for previous, columns, to_row in (
                (PREVIOUS, "event_id, case_id, service, notification_id, event_type, message, payload_type, payload",
                 self._row_from_v3),
                (OLDER, "event_id, entry", lambda _id, entry: self._row_from_previous(json.loads(entry))),
            ):
                copied += self._copy_table(previous, columns, to_row)
            return copied

    def _copy_table(self, previous: str, columns: str, to_row: Any) -> int:
        marker = f"{TABLE}<-{previous}"  # 1 once that table's rows are copied
        if saved_position(self._sql, marker) or not self._sql.has_table(previous):
            return 0
        table, after, copied = self._sql.table(previous), "", 0
        while True:
            section = self._sql.query(
                f"SELECT {columns} FROM {table} WHERE event_id > ? ORDER BY event_id LIMIT {SECTION}", [after]
            )
            if not section:
                break
            rows = [to_row(*row) for row in section]
            with self._sql.cursor(commit=True) as c:
                c.executemany(self._insert, rows)
                if not all(row.entry for row in rows):  # v2 rows: entries to fill in
                    self._mark_unfilled(c)
            copied += len(rows)
            after = section[-1][0]
        with self._sql.cursor(commit=True) as c:
            save_position(self._sql, c, marker, 1)
        return copied

    def copy_recorded_entries(self) -> int:
        """Copy `TimelineEntry.Recorded` events (stores written before ADR 0024) into the table,
        from the saved position on; returns entries copied. Nothing records them any more."""
        with self._lock:
            copied = copy_from_events(
                self._app, self._sql, POSITION, self._topics, lambda e: self._row_from_previous(e.entry), self._insert
            )
            if copied:
                self.mark_unfilled()
            return copied

    @staticmethod
    def _row_from_v3(
        event_id: str, case_id: str, service: str, notification_id: int, event_type: str,
        message: bytes, payload_type: str, payload: bytes,
    ) -> Row:
        """A row from a v3 row: its entry gives the actor and the instants, its payload the rest."""
        entry = TimelineEntry.FromString(bytes(message))
        return _row(
            event_id=event_id, case_id=case_id, service=service, notification_id=int(notification_id),
            event_type=event_type, actor=entry.actor, occurred_at=entry.occurred_at, recorded_at=entry.recorded_at,
            payload_type=payload_type, payload=bytes(payload), entry=bytes(message),
        )

    @staticmethod
    def _row_from_previous(e: dict[str, Any]) -> Row:
        """A row from an entry's dict view, as v2 rows and `TimelineEntry.Recorded` events kept it."""
        payload_type, payload = payload_from_details(e["event_type"], e.get("details", {}))
        return _row(
            event_id=e["event_id"], case_id=e["case_id"], service=e["service"], notification_id=int(e["notification_id"]),
            event_type=e["event_type"], actor=envelope_pb2.Actor(**e["actor"]), occurred_at=instant_of(e["occurred_at"]),
            recorded_at=instant_of(e["recorded_at"]), payload_type=payload_type, payload=payload, entry=b"",
        )


def _row(*, event_id: str, case_id: str, service: str, notification_id: int, event_type: str, actor: Any,
         occurred_at: Any, recorded_at: Any, payload_type: str, payload: bytes, entry: bytes) -> Row:
    envelope = stored_envelope(
        event_id=event_id, case_id=case_id, service=service, notification_id=notification_id, event_type=event_type,
        actor=actor, occurred_at=occurred_at, recorded_at=recorded_at, payload_type=payload_type, payload=payload,
    )
    return Row(event_id, case_id, ns_of(occurred_at), ns_of(recorded_at), service, notification_id, event_type, envelope,
               entry)


def stage_rows(sql: Sql, staging: str, rows: Sequence[Row]) -> None:
    """Rows derived again from the topics into a rebuild's table (`TimelineTable.open_staging`),
    from any process. No index yet: appending is what a rebuild does most."""
    statement = f"INSERT INTO {sql.table(staging)} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    with sql.cursor(commit=True) as c:
        c.executemany(sql.dialect(statement), list(rows))
