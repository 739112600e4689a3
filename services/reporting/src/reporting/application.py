"""ReportingApplication: read models over every service's events (timelines, datasets)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from caseplatform.envelope import IncomingEvent
from caseplatform.errors import NotFound
from caseplatform.inbox import Unit
from caseplatform.projection import Rows
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.reporting.v1 import reporting_pb2
from reporting.access_log import AccessLogTable, is_audit, record_access
from reporting.domain.deadline_marks import iso
from reporting.domain.sla import SlaCase
from reporting.exports.redaction import redact
from reporting.sla_breaches import BreachTable
from reporting.sla_projection import SlaProjection
from reporting.timelines.fill import EntryFill
from reporting.timelines.messages import entry_message
from reporting.timelines.recording import record_on_timeline
from reporting.timelines.table import TimelineTable
from reporting.timelines.watch import TimelineWatch


class ReportingApplication(ServiceApplication):
    # A case's SLA record gains an event per clock for as long as the case is open (ADR 0034).
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {SlaCase: 100}

    def __init__(self, settings: PlatformSettings, env: dict[str, str] | None = None) -> None:
        super().__init__("reporting", settings, env)
        self.timelines = TimelineTable(self)
        self.access_logs = AccessLogTable(self)  # GetAccessLog (ADR 0021, ADR 0033)
        self.timeline_watch = TimelineWatch(self, self.timelines)  # WatchCaseTimeline (ADR 0028)
        self.timeline_fill = EntryFill(self.timelines)  # entries of rebuilt rows, in the background (ADR 0042)
        self.sla_breaches = BreachTable(self)  # ListSlaBreaches (ADR 0035)
        self.sla = SlaProjection(self, self.sla_breaches)  # SLA clocks (ADR 0016)

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if is_audit(event):  # the read audit goes to access logs, never onto timelines
            record_access(event, unit, self.access_logs)
            return
        self.sla.policy(event, unit)
        record_on_timeline(event, unit, self.timelines)

    def close(self) -> None:
        self.timeline_watch.close()  # its listener (PostgreSQL) stops within a second
        super().close()

    def read_model_rows(self) -> dict[str, int]:
        return {"timeline_entries": self.timelines.count(), "access_log_entries": self.access_logs.count(),
                "sla_breaches": self.sla_breaches.count(),
                # rows a rebuild staged whose entries the background pass has not stored yet (ADR 0042)
                "timeline_entries_to_fill": self.timelines.rows_to_fill()}

    def rows_with(self, aggregates: Iterable[Any]) -> Rows:
        """A breached clock's row, in the transaction that records the breach (ADR 0035)."""
        return self.sla_breaches.rows_for(aggregates)

    def access_log(self, case_id: UUID) -> list[dict]:
        """Who read or was refused the case's records, oldest first (empty if no one yet)."""
        return self.access_logs.for_case(str(case_id))

    def timeline_response(self, case_id: UUID, as_at: datetime | None = None) -> reporting_pb2.GetCaseTimelineResponse:
        """`GetCaseTimeline`'s answer from the entries stored serialised (no per-entry conversion)."""
        messages = self.timelines.messages_for_case(str(case_id), iso(as_at) if as_at else None)
        if not messages and not self.timelines.has_case(str(case_id)):
            raise NotFound("timeline for case", str(case_id))
        response = reporting_pb2.GetCaseTimelineResponse(case_id=str(case_id))
        for message in messages:
            response.entries.add().MergeFromString(message)
        return response

    def keyed_timeline(
        self, case_id: str, redacted: bool, known: Collection[str] = ()
    ) -> list[tuple[str, str, bytes | reporting_pb2.TimelineEntry]]:
        """(event_id, event_type, entry) of the case's entries in order but for those `known`, for
        `WatchCaseTimeline`: serialised, or — for a regulator — redacted as in an export (the whole
        timeline is redacted together, as a value found in one entry is scrubbed from all)."""
        if redacted:
            return [(e["event_id"], e["event_type"], entry_message(e))
                    for e in redact(self.timelines.for_case(case_id)) if e["event_id"] not in known]
        return self.timelines.keyed_messages_for_case(case_id, known)

    def timeline(self, case_id: UUID, as_at: datetime | None = None) -> list[dict]:
        """The case's entries in order (as recorded by `as_at`, when given)."""
        if not self.timelines.has_case(str(case_id)):
            raise NotFound("timeline for case", str(case_id))
        return self.timelines.for_case(str(case_id), iso(as_at) if as_at else None)
