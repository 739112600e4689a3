"""The SLA RPCs of reporting.v1.ReportingService (ADR 0016), mixed into the servicer."""

from __future__ import annotations

import asyncio

from caseplatform.clock import process_clock
from caseplatform.envelope import from_timestamp, to_timestamp
from caseplatform.errors import InvalidArgument
from caseplatform.ids import parse_uuid
from casework.reporting.v1 import reporting_pb2
from reporting.domain.sla import BREACHED, MET, OPEN, WITHDRAWN, SlaClock
from reporting.sla_projection import BreachFilter, SlaProjection

STATES = {
    OPEN: reporting_pb2.SLA_OPEN,
    BREACHED: reporting_pb2.SLA_BREACHED,
    MET: reporting_pb2.SLA_MET,
    WITHDRAWN: reporting_pb2.SLA_WITHDRAWN,
}


class SlaRpcs:
    """Expects `self._sla`, the application's SlaProjection."""

    _sla: SlaProjection

    async def ListSlaBreaches(self, request, context):
        wanted = _breach_filter(request.filter)
        found = await asyncio.to_thread(self._sla.breaches, wanted)
        return reporting_pb2.ListSlaBreachesResponse(breaches=[clock_message(c, area) for c, area in found])

    async def GetSlaStatus(self, request, context):
        case_id = str(parse_uuid(request.case_id, "case_id"))
        area, clocks = await asyncio.to_thread(self._sla.status, case_id)
        return reporting_pb2.GetSlaStatusResponse(
            case_id=case_id,
            clocks=[clock_message(c, area) for c in clocks],
            as_of=to_timestamp(process_clock().now()),
        )


def _breach_filter(f: reporting_pb2.SlaFilter) -> BreachFilter:
    start = from_timestamp(getattr(f, "from")) if f.HasField("from") else None
    end = from_timestamp(f.to) if f.HasField("to") else None
    if start is not None and end is not None and end <= start:
        raise InvalidArgument.one("filter.to", "must be after filter.from")
    return BreachFilter(kind=f.kind, service=f.service, area=f.area, start=start, end=end)


def clock_message(clock: SlaClock, area: str) -> reporting_pb2.SlaClock:
    start = clock.start or {}
    message = reporting_pb2.SlaClock(
        clock_id=clock.clock_id,
        case_id=clock.case_id,
        kind=clock.kind,
        service=clock.service,
        area=area,
        started_at=to_timestamp(start["started_at"]),
        due_at=to_timestamp(start["due_at"]),
        due_date=start["due_date"],
        state=STATES[clock.state],
        breached=clock.breached_at is not None,
        on_time=bool(clock.on_time),
        withdrawn_reason=clock.withdrawn_reason,
    )
    if clock.breached_at is not None:
        message.breached_at.CopyFrom(to_timestamp(clock.breached_at))
    if clock.met_at is not None:
        message.met_at.CopyFrom(to_timestamp(clock.met_at))
    return message
