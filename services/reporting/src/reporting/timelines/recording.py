"""The timeline half of reporting's policy: every event about a case becomes one row of the
timeline table, written in the inbox's transaction (ADR 0024)."""

from __future__ import annotations

from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Unit
from reporting.timelines.entries import timeline_row
from reporting.timelines.table import TimelineTable


def record_on_timeline(event: IncomingEvent, unit: Unit, table: TimelineTable) -> None:
    if event.case_id:
        unit.add_row(table, timeline_row(event))
