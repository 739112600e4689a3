"""The timeline, export, dataset and rebuild RPCs of reporting.v1.ReportingService (ADR 0018),
mixed into the service's servicer so the SLA RPCs can live beside them in their own module."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict
from typing import Any

from caseplatform.access import Role, caller_role
from caseplatform.clock import process_clock
from caseplatform.envelope import contract_class, from_timestamp
from caseplatform.errors import InvalidArgument, NotFound, Unavailable
from caseplatform.ids import parse_uuid
from casework.reporting.v1 import reporting_pb2
from reporting.dataset.figure import Figure
from reporting.dataset.outputs import to_csv, to_html
from reporting.dataset.query import dataset, parse_period
from reporting.dataset.settings import DatasetSettings
from reporting.domain.deadline_marks import iso
from reporting.exports.redaction import redact
from reporting.exports.timeline_export import export_timeline
from reporting.timelines.messages import entry_message
from reporting.timelines.rebuild import BrokerUnavailable, rebuild_from_topics


class TimelineRpcs:
    _app: Any  # ReportingApplication, set by the servicer

    async def GetCaseTimeline(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        as_at = from_timestamp(request.as_at) if request.HasField("as_at") else None
        if caller_role() is Role.REGULATOR:  # a regulator sees the timeline redacted, as in an export
            entries = redact(await asyncio.to_thread(self._app.timeline, case_id, as_at))
            response = reporting_pb2.GetCaseTimelineResponse(case_id=str(case_id), entries=[entry_message(e) for e in entries])
        else:  # the entries as stored, already serialised: no per-entry conversion on a read
            response = await asyncio.to_thread(self._app.timeline_response, case_id, as_at)
        if as_at is not None:
            response.as_at.CopyFrom(request.as_at)
        return response

    async def WatchCaseTimeline(self, request, context):
        """The timeline as it grows (ADR 0028): everything so far, then what each commit adds."""
        case_id = str(parse_uuid(request.case_id, "case_id"))
        until = _event_types(request.until_event_types)
        redacted = caller_role() is Role.REGULATOR
        loop = asyncio.get_running_loop()
        started = loop.time()
        # A case reporting has not heard of yet is waited for as a call would be (ADR 0026).
        arrival_by = started + self._app.settings.casework_case_arrival_wait_s
        watch = self._app.timeline_watch
        sent: set[str] = set()
        seen: set[str] = set()
        with watch.watching(case_id) as changed:
            while loop.time() - started < WATCH_MAX_S:
                changed.clear()  # before reading: a commit after this wakes the next wait
                new = await asyncio.to_thread(self._app.keyed_timeline, case_id, redacted, frozenset(sent))
                if not new and not sent:
                    if loop.time() >= arrival_by:
                        raise NotFound("timeline for case", case_id)
                    await _woken(changed, min(watch.recheck_s, max(arrival_by - loop.time(), 0.01)))
                    continue
                if new or not sent:
                    sent.update(e[0] for e in new)
                    seen.update(e[1] for e in new)
                    complete = bool(until) and until <= seen
                    yield _update(case_id, new, complete)
                    if complete:
                        return
                await _woken(changed, watch.recheck_s)

    async def ExportCaseTimeline(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        as_at = from_timestamp(request.as_at) if request.HasField("as_at") else None
        fmt = _export_format(request.format)
        entries = await asyncio.to_thread(self._app.timeline, case_id, as_at)
        exported = await asyncio.to_thread(
            export_timeline, str(case_id), iso(as_at) if as_at else None, entries, fmt, iso(process_clock().now())
        )
        return reporting_pb2.ExportCaseTimelineResponse(
            case_id=str(case_id), format=reporting_pb2.ExportFormat.Value(fmt),
            content_type=exported.content_type, content=exported.content,
            content_sha256=exported.sha256, entry_count=exported.entry_count,
        )

    async def RebuildTimelines(self, request, context):
        """Every timeline row derived again from the topics (ADR 0024), with progress as it reads."""
        queue: asyncio.Queue = asyncio.Queue()

        def progress(done: int, total: int, written: int) -> None:
            queue.put_nowait((done, total, written))

        rebuild = asyncio.ensure_future(
            rebuild_from_topics(self._app.timelines, self._app.settings.kafka_bootstrap_servers, progress)
        )
        done = total = 0
        try:
            while not (rebuild.done() and queue.empty()):
                try:
                    done, total, written = await asyncio.wait_for(queue.get(), timeout=0.1)
                except TimeoutError:
                    continue
                yield reporting_pb2.RebuildProgress(done=done, total=total, entries=written)
            try:
                written = rebuild.result()
            except BrokerUnavailable as exc:
                raise Unavailable(f"timelines not rebuilt: {exc}") from exc
            self._app.timeline_fill.wake()  # the rebuilt rows' entries, stored in the background (ADR 0042)
            yield reporting_pb2.RebuildProgress(done=done, total=total, entries=written)
        finally:
            rebuild.cancel()


WATCH_MAX_S = 900.0  # a watch ends (OK, not complete) after this long; the caller may watch again
WATCH_EVENT_TYPES_MAX = 50


def _event_types(names: Any) -> frozenset[str]:
    if len(names) > WATCH_EVENT_TYPES_MAX:
        raise InvalidArgument.one("until_event_types", f"at most {WATCH_EVENT_TYPES_MAX} event types")
    for index, name in enumerate(names):
        if contract_class(name) is None:
            raise InvalidArgument.one(
                f"until_event_types[{index}]", "not an event type of the contracts (e.g. referral.v1.ReferralRequired)"
            )
    return frozenset(names)


def _update(case_id: str, entries: list[tuple[str, str, Any]], complete: bool) -> reporting_pb2.TimelineUpdate:
    update = reporting_pb2.TimelineUpdate(case_id=case_id, complete=complete)
    for _, _, entry in entries:
        if isinstance(entry, bytes):
            update.entries.add().MergeFromString(entry)
        else:
            update.entries.append(entry)
    return update


async def _woken(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


class DatasetRpcs:
    _app: Any

    async def GetPartnershipDataset(self, request, context):
        start, end = parse_period(request.from_date, request.to_date)
        figures = await asyncio.to_thread(
            dataset, self._app.timelines, start, end, request.area, DatasetSettings().population()
        )
        response = reporting_pb2.GetPartnershipDatasetResponse(
            from_date=start.isoformat(), to_date=end.isoformat(), area=request.area,
            figures=[_figure(f) for f in figures],
        )
        if request.format == reporting_pb2.DATASET_CSV:
            response.content_type, response.content = "text/csv; charset=utf-8", to_csv(figures)
        elif request.format == reporting_pb2.DATASET_HTML:
            response.content_type = "text/html; charset=utf-8"
            response.content = to_html(figures, start.isoformat(), end.isoformat(), request.area)
        elif request.format == reporting_pb2.DATASET_JSON:
            response.content_type = "application/json"
            response.content = json.dumps([asdict(f) for f in figures], indent=2).encode()
        return response


def _figure(f: Figure) -> reporting_pb2.DatasetFigure:
    return reporting_pb2.DatasetFigure(
        measure=f.measure, dimension=f.dimension, breakdown=f.breakdown,
        value=f.value if f.value is not None else 0.0, suppressed=f.suppressed,
    )


EXPORT_FORMATS = {number: name for name, number in reporting_pb2.ExportFormat.items() if number}


def _export_format(number: int) -> str:
    """The format's name (unspecified: JSON); a number no build knows is the caller's mistake."""
    if not number:
        return "JSON"
    if number not in EXPORT_FORMATS:
        raise InvalidArgument.one("format", f"unknown value {number}: one of {', '.join(EXPORT_FORMATS.values())}")
    return EXPORT_FORMATS[number]
