"""The timeline half of reporting's policy: every event about a case becomes one entry."""

from __future__ import annotations

from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Unit
from reporting.domain.timeline_entry import TimelineEntry
from reporting.timelines.entries import entry_from


def record_on_timeline(event: IncomingEvent, unit: Unit) -> None:
    if not event.case_id:
        return
    entry_id = TimelineEntry.create_id(event.case_id, event.envelope.event_id)
    if unit.get(entry_id) is not None:  # an event is on a timeline once, however often delivered
        return
    unit.collect(
        TimelineEntry(case_id=event.case_id, event_id=event.envelope.event_id, entry=entry_from(event))
    )
