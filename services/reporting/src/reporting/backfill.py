"""Read-model rows derived once from events recorded before the read model existed (a timeline
entry, an access log, a breach kept as events before they were rows), from a saved position on,
so a restart half-way carries on where it stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from caseplatform.store import ServiceApplication, Sql

POSITIONS = "read_model_positions"
SECTION = 500


def ensure_positions(sql: Sql) -> None:
    sql.execute(f"CREATE TABLE IF NOT EXISTS {sql.table(POSITIONS)} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")


def saved_position(sql: Sql, name: str) -> int:
    rows = sql.query(f"SELECT position FROM {sql.table(POSITIONS)} WHERE name = ?", [name])
    return int(rows[0][0]) if rows else 0


def save_position(sql: Sql, cursor: Any, name: str, position: int) -> None:
    cursor.execute(
        sql.dialect(
            f"INSERT INTO {sql.table(POSITIONS)} (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
        ),
        [name, position],
    )


def copy_from_events(
    app: ServiceApplication, sql: Sql, name: str, topics: Sequence[str], row_of: Callable[[Any], tuple[Any, ...]],
    insert: str,
) -> int:
    """Insert `row_of(event)` for each stored event of `topics` after position `name`, saving the
    position with each section's rows; returns rows inserted."""
    position = saved_position(sql, name)
    total = app.recorder.max_notification_id() or 0
    copied = 0
    while position < total:
        section = app.recorder.select_notifications(start=position + 1, limit=SECTION, stop=total, topics=topics)
        rows = [row_of(app.mapper.to_domain_event(n)) for n in section]
        position = section[-1].id if section else total
        with sql.cursor(commit=True) as c:
            if rows:
                c.executemany(insert, rows)
            save_position(sql, c, name, position)
        copied += len(rows)
    return copied


class RowTable:
    """A read model kept as rows, one per `key` (written once: a row already there is kept), in
    the transaction of whatever records them (`write_rows`), and filled once from events
    recorded before it existed (`backfill`)."""

    def __init__(self, app: ServiceApplication, name: str, definition: str, key: str, columns: Sequence[str],
                 indexes: Sequence[tuple[str, str]] = (), unique: Sequence[tuple[str, str]] = ()) -> None:
        """`indexes`, `unique`: (name suffix, column list) of the table's indexes."""
        self._app = app
        self._sql = Sql(app)
        self._table = self._sql.table(name)
        self._lock = threading.Lock()
        self._insert = self._sql.dialect(
            f"INSERT INTO {self._table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({key}) DO NOTHING"
        )
        self._sql.execute(f"CREATE TABLE IF NOT EXISTS {self._table} ({definition})")
        for kind, specs in (("UNIQUE INDEX", unique), ("INDEX", indexes)):
            for suffix, on in specs:
                self._sql.execute(f"CREATE {kind} IF NOT EXISTS {name}_{suffix} ON {self._table} ({on})")
        ensure_positions(self._sql)

    def write_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        cursor.executemany(self._insert, list(rows))

    def count(self) -> int:
        return int(self._sql.query(f"SELECT COUNT(*) FROM {self._table}")[0][0])

    def backfill(self, position: str, topics: Sequence[str], row_of: Callable[[Any], tuple[Any, ...]]) -> int:
        with self._lock:
            return copy_from_events(self._app, self._sql, position, topics, row_of, self._insert)
