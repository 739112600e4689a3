"""Read-model rows written in the inbox's own transaction (ADR 0024).

A consumer's policy records events (the library's process recorder writes them with the
tracking record, one transaction). A read model that is only a *view* of upstream events — a
case's timeline — does not need events of its own: its rows can be written in that same
transaction. Then the rows and the tracking position commit together or not at all, which is
what makes them exactly-once, with no second store to reconcile and nothing to replay on read.

The library owns the transaction, so the rows ride on the tracking object into it: the
recorders below run each `RowWriter` with the transaction's cursor right after the tracking
record is inserted. A command's rows (a new data subject's key, ADR 0027) ride the same way on
the keyword arguments of `save`, written right after the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder


class RowWriter(Protocol):
    def write_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write `rows` with the transaction's cursor (idempotently: a unit can be retried)."""


@dataclass(frozen=True)
class TrackingWithRows(Tracking):
    """A tracking record carrying what else its transaction writes: read-model rows, and the
    positions of other source partitions applied in the same unit (a fetched batch spanning
    several partitions commits once, not once per partition)."""

    rows: tuple[tuple[RowWriter, tuple[tuple[Any, ...], ...]], ...] = field(default=(), compare=False)
    also: tuple[Tracking, ...] = field(default=(), compare=False)


def _write_rows(cursor: Any, tracking: Tracking) -> None:
    for writer, rows in getattr(tracking, "rows", ()):
        writer.write_rows(cursor, rows)


Rows = tuple[tuple[RowWriter, tuple[tuple[Any, ...], ...]], ...]


def _write_saved_rows(cursor: Any, kwargs: dict[str, Any]) -> None:
    """Rows a command saves with its events (`ServiceApplication.save(..., rows=...)`)."""
    for writer, rows in kwargs.get("rows", ()):
        writer.write_rows(cursor, rows)


class SQLiteProjectingRecorder(SQLiteProcessRecorder):
    def _insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        returning = super()._insert_events(c, stored_events, **kwargs)
        _write_saved_rows(c, kwargs)
        return returning

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        super()._insert_tracking(c, tracking)
        for other in getattr(tracking, "also", ()):
            super()._insert_tracking(c, other)
        _write_rows(c, tracking)


class PostgresProjectingRecorder(PostgresProcessRecorder):
    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> Any:
        returning = super()._insert_events(curs, stored_events, **kwargs)
        _write_saved_rows(curs, kwargs)
        return returning

    def _insert_tracking(self, curs: Any, tracking: Tracking) -> None:
        super()._insert_tracking(curs, tracking=tracking)
        for other in getattr(tracking, "also", ()):
            super()._insert_tracking(curs, tracking=other)
        _write_rows(curs, tracking)


RECORDER_TOPICS = {
    "sqlite": "caseplatform.projection:SQLiteProjectingRecorder",
    "postgres": "caseplatform.projection:PostgresProjectingRecorder",
}
