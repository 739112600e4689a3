"""Reporting's half of the read audit: every `common.v1.CaseAccessed` about a case becomes an entry
in that case's access log (ADR 0021); `GetAccessLog` reads it.

The log is a table of rows, one per access, written in the inbox's own transaction as timeline
rows are (ADR 0024, ADR 0033). It was an aggregate per case, and each access appended to it after
replaying every earlier entry: a case read a thousand times cost 18 ms per further read to
record, growing without end. Logs kept as aggregates are copied in once, when the table opens.
"""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.utils import get_topic
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from caseplatform.audit import AUDIT_EVENT
from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Unit
from caseplatform.store import ServiceApplication
from reporting.backfill import RowTable
from reporting.domain.access_log import CaseAccessLog
from reporting.domain.deadline_marks import iso_of

TABLE = "access_log_entries"
COPIED = f"{TABLE}<-CaseAccessLog"  # how far the logs kept as aggregates have been copied


def is_audit(event: IncomingEvent) -> bool:
    return event.event_type == AUDIT_EVENT


def record_access(event: IncomingEvent, unit: Unit, table: AccessLogTable) -> None:
    if not event.case_id or event.payload is None:
        return  # a list or a refused call that named no case: on the topic, not in a case's log
    entry: dict[str, Any] = MessageToDict(event.payload, preserving_proto_field_name=True)
    entry["at"] = event.envelope.recorded_at.ToJsonString()
    entry["event_id"] = event.envelope.event_id
    unit.add_row(table, entry_row(event.case_id, entry, iso_of(event.envelope.recorded_at)))


def entry_row(case_id: str, entry: dict[str, Any], at: str) -> tuple[str, str, str, str]:
    """(event_id, case_id, at as sortable text, the entry as JSON): one access."""
    return entry["event_id"], case_id, at, json.dumps(entry, separators=(",", ":"), sort_keys=True)


class AccessLogTable(RowTable):
    """One row per access, indexed by case and time; unique by the audit event, so a redelivered
    event changes nothing."""

    def __init__(self, app: ServiceApplication) -> None:
        super().__init__(
            app, TABLE, "event_id TEXT NOT NULL, case_id TEXT NOT NULL, at TEXT NOT NULL, entry TEXT NOT NULL",
            key="event_id", columns=("event_id", "case_id", "at", "entry"),
            unique=[("by_event", "event_id")], indexes=[("by_case", "case_id, at")],
        )
        self.copy_logged_entries()

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        """Who read or was refused the case's records, oldest first (empty if no one yet)."""
        rows = self._sql.query(f"SELECT entry FROM {self._table} WHERE case_id = ? ORDER BY at, event_id", [case_id])
        return [json.loads(entry) for (entry,) in rows]

    def copy_logged_entries(self) -> int:
        """Copy the entries of access logs kept as aggregates (before ADR 0033) into the table,
        from the saved position on; returns entries copied. Nothing appends to them any more."""
        return self.backfill(COPIED, [get_topic(CaseAccessLog.EntryAppended)], _row_of)


def _row_of(appended: Any) -> tuple[str, str, str, str]:
    entry = appended.entry
    at = Timestamp()
    at.FromJsonString(entry["at"])
    return entry_row(entry["case_id"], entry, iso_of(at))
