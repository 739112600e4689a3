"""The case list behind `ListCases`: one row per case, written in the transaction that records
the case's events (ADR 0029, on ADR 0024's mechanism), so a CHO's list is one indexed query —
not a replay of every case in the store, which grew with the landlord's whole history.

A row holds what a `CaseSummary` shows and what its filters need. "Overdue" depends on the time
of asking, so a row keeps the safe-contact due instant while contact is still to be made, and
whether the case was recorded late; `CaseRow.overdue(now)` says the same as `Case.overdue(now)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caseplatform.store import ServiceApplication, Sql
from intake.domain.case import OPEN, Case
from intake.domain.deadlines import CASE_RECORDED, SAFE_CONTACT

TABLE = "case_list_v1"
COLUMNS = ("case_id", "owner_cho", "status", "risk_grade", "received_at", "recorded_late", "contact_due")


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    owner_cho: str
    status: str
    risk_grade: str
    received_at: datetime
    recorded_late: bool
    contact_due: datetime | None  # while safe contact is still to be made

    def overdue(self, now: datetime) -> list[str]:
        late = [CASE_RECORDED] if self.recorded_late else []
        if self.status == OPEN and self.contact_due is not None and now > self.contact_due:
            late.append(SAFE_CONTACT)
        return late


class CaseList:
    def __init__(self, app: ServiceApplication) -> None:
        self._sql = Sql(app)
        self._table = self._sql.table(TABLE)
        self._sql.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} (case_id TEXT PRIMARY KEY, owner_cho TEXT NOT NULL, "
            "status TEXT NOT NULL, risk_grade TEXT NOT NULL, received_at TEXT NOT NULL, "
            "recorded_late INTEGER NOT NULL, contact_due TEXT)"
        )
        self._sql.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_owner ON {self._table} (owner_cho, status)")
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        self._upsert = self._sql.dialect(
            f"INSERT INTO {self._table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
            f"ON CONFLICT (case_id) DO UPDATE SET {updates}"
        )

    # -- writing (in the transaction that records the case's events) ---------------------------

    @staticmethod
    def row(case: Case) -> tuple[Any, ...]:
        recorded_due = case.due_at(CASE_RECORDED)
        contact_due = case.due_at(SAFE_CONTACT) if not case.safe_contact_made_at else None
        return (
            case.case_id, case.owner.get("cho", ""), case.status, case.risk_grade, case.received_at.isoformat(),
            int(recorded_due is not None and case.recorded_at > recorded_due),
            contact_due.isoformat() if contact_due is not None else None,
        )

    def rows_for(self, aggregates: Iterable[Any]) -> tuple[tuple[Any, tuple[tuple[Any, ...], ...]], ...]:
        rows = tuple(self.row(a) for a in aggregates if isinstance(a, Case))
        return ((self, rows),) if rows else ()

    def write_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        cursor.executemany(self._upsert, list(rows))

    def is_empty(self) -> bool:
        return not self._sql.query(f"SELECT 1 FROM {self._table} LIMIT 1")

    def fill(self, cases: Iterable[Case]) -> int:
        """Rows for cases recorded before this table existed (once, in one transaction)."""
        rows = [self.row(c) for c in cases]
        with self._sql.cursor(commit=True) as cursor:
            self.write_rows(cursor, rows)
        return len(rows)

    # -- reading --------------------------------------------------------------------------------

    def query(self, owner_cho: str, status: str, overdue_only: bool, risk_grade: str, now: datetime,
              after: str | None = None, limit: int | None = None) -> list[CaseRow]:
        """The matching rows in case id order: after `after` if given, at most `limit` if given.
        "Overdue" depends on `now`, so it is applied here, reading on until `limit` rows match."""
        where, params = [], []
        for column, value in (("owner_cho", owner_cho), ("status", status), ("risk_grade", risk_grade)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        found: list[CaseRow] = []
        while True:
            rows = self._rows(where, params, after, limit)
            found += [row for row in rows if row.overdue(now)] if overdue_only else rows
            if limit is None or len(rows) < limit or len(found) >= limit:
                return found[:limit]
            after = rows[-1].case_id

    def _rows(self, where: list[str], params: list[Any], after: str | None, limit: int | None) -> list[CaseRow]:
        if after is not None:
            where, params = [*where, "case_id > ?"], [*params, after]
        rows = self._sql.query(
            f"SELECT {', '.join(COLUMNS)} FROM {self._table}"
            + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY case_id"
            + (f" LIMIT {int(limit)}" if limit is not None else ""),
            params,
        )
        return [
            CaseRow(str(c), str(o), str(s), str(g), datetime.fromisoformat(r), bool(late),
                    datetime.fromisoformat(due) if due else None)
            for c, o, s, g, r, late, due in rows
        ]
