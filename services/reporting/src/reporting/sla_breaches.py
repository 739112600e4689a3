"""Breached clocks as rows (ADR 0035), so `ListSlaBreaches` reads the breaches it answers with
and not every breach there has ever been.

A row is written in the transaction that records a clock's breach — by the SLA watch when a due
instant passes, or by the inbox when a clock is met too late to have been known in time — from
the aggregates being saved (`ServiceApplication.rows_with`). Breaches recorded before the table
existed are copied in once, when it opens.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic

from caseplatform.projection import Rows
from caseplatform.store import ServiceApplication
from reporting.backfill import RowTable
from reporting.domain.deadline_marks import iso
from reporting.domain.sla import SlaClock

TABLE = "sla_breaches"
COPIED = f"{TABLE}<-SlaClock.Breached"  # how far breaches recorded before the table have been copied


class BreachTable(RowTable):
    """One row per breached clock: its aggregate id, case, kind, the service whose deadline it
    was, and the instant it was breached (fixed-width text: sorts as time)."""

    def __init__(self, app: ServiceApplication) -> None:
        super().__init__(
            app, TABLE, "clock TEXT PRIMARY KEY, case_id TEXT NOT NULL, kind TEXT NOT NULL, service TEXT NOT NULL, "
            "breached_at TEXT NOT NULL",
            key="clock", columns=("clock", "case_id", "kind", "service", "breached_at"),
            indexes=[("by_time", "breached_at")],
        )
        self.copy_recorded_breaches()

    def rows_for(self, aggregates: Iterable[Any]) -> Rows:
        """Rows for the breached clocks among aggregates being saved (one already written is kept)."""
        rows = tuple(
            (str(a.id), a.case_id, a.kind, a.service, iso(a.breached_at))
            for a in aggregates if isinstance(a, SlaClock) and a.breached_at is not None
        )
        return ((self, rows),) if rows else ()

    def clocks(self, kind: str = "", service: str = "", start: datetime | None = None,
               end: datetime | None = None, after: tuple[str, str] | None = None,
               limit: int | None = None) -> list[tuple[str, str]]:
        """(breached_at, clock) of the breached clocks matching what SQL can filter, by breach
        instant then clock; `after`: only those past that (breached_at, clock), for paging."""
        where: list[str] = []
        params: list[Any] = []
        if after is not None:
            where.append("(breached_at > ? OR (breached_at = ? AND clock > ?))")
            params += [after[0], after[0], after[1]]
        for column, value in (("kind", kind), ("service", service)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if start is not None:
            where.append("breached_at >= ?")
            params.append(iso(start))
        if end is not None:
            where.append("breached_at < ?")
            params.append(iso(end))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        limited = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self._sql.query(
            f"SELECT breached_at, clock FROM {self._table}{clause} ORDER BY breached_at, clock{limited}", params
        )
        return [(str(at), str(clock)) for at, clock in rows]

    def copy_recorded_breaches(self) -> int:
        """Rows for breaches recorded before this table; returns breaches copied."""
        return self.backfill(COPIED, [get_topic(SlaClock.Breached)], _row_of)


def _row_of(breached: Any) -> tuple[str, str, str, str, str]:
    clock = breached.clock
    return (str(breached.originator_id), clock["case_id"], clock["kind"], clock.get("service", ""),
            iso(breached.breached_at))
