"""The SLA RPCs of reporting.v1.ReportingService (ADR 0016), mixed into the servicer."""

from __future__ import annotations

import asyncio
from uuid import UUID

from caseplatform.clock import process_clock
from caseplatform.envelope import from_timestamp, to_timestamp
from caseplatform.errors import InvalidArgument
from caseplatform.ids import parse_uuid
from caseplatform.paging import next_page_token, page_asked, too_many_for_one_answer
from casework.reporting.v1 import reporting_pb2
from reporting.domain.sla import BREACHED, MET, OPEN, WITHDRAWN, SlaClock
from reporting.sla_projection import BreachFilter, SlaProjection

# Without page_size every match comes in one answer, up to this many (~2.5 MB; gRPC clients
# refuse answers over 4 MB by default). Beyond it the caller is told to page, by field, before
# the server has loaded them all (`caseplatform.paging`).
UNPAGED_MAX = 10_000

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
        page = page_asked(request.page_size, request.page_token, request.filter, key_parts=2)
        if page.size is None:
            # One page one larger than the limit: enough to tell that there are more.
            found, _ = await asyncio.to_thread(self._sla.breach_page, wanted, UNPAGED_MAX + 1)
            if len(found) > UNPAGED_MAX:
                raise too_many_for_one_answer("breaches", UNPAGED_MAX)
            return reporting_pb2.ListSlaBreachesResponse(breaches=[clock_message(c, area) for c, area in found])
        after = _breach_key(page.after) if page.after else None
        found, last = await asyncio.to_thread(self._sla.breach_page, wanted, page.size, after)
        return reporting_pb2.ListSlaBreachesResponse(
            breaches=[clock_message(c, area) for c, area in found],
            next_page_token=next_page_token(last, request.filter) if last is not None else "",
        )

    async def GetSlaStatus(self, request, context):
        case_id = str(parse_uuid(request.case_id, "case_id"))
        area, clocks = await asyncio.to_thread(self._sla.status, case_id)
        return reporting_pb2.GetSlaStatusResponse(
            case_id=case_id,
            clocks=[clock_message(c, area) for c in clocks],
            as_of=to_timestamp(process_clock().now()),
        )


def _breach_key(after: tuple[str, ...]) -> tuple[str, str]:
    """(breached at, clock id) where the previous page ended."""
    at, clock = after
    try:
        UUID(clock)
    except ValueError:
        raise InvalidArgument.one("page_token", "is not a token this list gave") from None
    return at, clock


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
