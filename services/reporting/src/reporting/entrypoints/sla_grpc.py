"""The SLA RPCs of reporting.v1.ReportingService (ADR 0016), mixed into the servicer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from uuid import UUID

from caseplatform.clock import process_clock
from caseplatform.envelope import from_timestamp, to_timestamp
from caseplatform.errors import InvalidArgument
from caseplatform.ids import parse_uuid
from casework.reporting.v1 import reporting_pb2
from reporting.domain.sla import BREACHED, MET, OPEN, WITHDRAWN, SlaClock
from reporting.sla_projection import BreachFilter, SlaProjection

MAX_PAGE = 1000  # a larger page_size is taken as this
# Without page_size every match comes in one answer, up to this many (~2.5 MB; gRPC clients
# refuse answers over 4 MB by default). Beyond it the caller is told to page, by field, before
# the server has loaded them all.
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
        if request.page_size < 0:
            raise InvalidArgument.one("page_size", "must not be negative")
        after = _page_after(request.page_token, request.filter)
        if not request.page_size:
            if after is not None:
                raise InvalidArgument.one("page_size", "is needed with a page_token")
            # One page one larger than the limit: enough to tell that there are more.
            found, _ = await asyncio.to_thread(self._sla.breach_page, wanted, UNPAGED_MAX + 1)
            if len(found) > UNPAGED_MAX:
                raise InvalidArgument.one(
                    "page_size", f"is needed: more than {UNPAGED_MAX:,} breaches match this filter "
                    f"(ask for pages of at most {MAX_PAGE:,} and follow next_page_token)")
            return reporting_pb2.ListSlaBreachesResponse(breaches=[clock_message(c, area) for c, area in found])
        size = min(request.page_size, MAX_PAGE)
        found, last = await asyncio.to_thread(self._sla.breach_page, wanted, size, after)
        return reporting_pb2.ListSlaBreachesResponse(
            breaches=[clock_message(c, area) for c, area in found],
            next_page_token=_page_token(last, request.filter) if last is not None else "",
        )

    async def GetSlaStatus(self, request, context):
        case_id = str(parse_uuid(request.case_id, "case_id"))
        area, clocks = await asyncio.to_thread(self._sla.status, case_id)
        return reporting_pb2.GetSlaStatusResponse(
            case_id=case_id,
            clocks=[clock_message(c, area) for c in clocks],
            as_of=to_timestamp(process_clock().now()),
        )


def _filter_mark(f: reporting_pb2.SlaFilter) -> str:
    return hashlib.sha256(f.SerializeToString(deterministic=True)).hexdigest()[:16]


def _page_token(last: tuple[str, str], f: reporting_pb2.SlaFilter) -> str:
    """Opaque to callers: where the page ended, and which filter it was for."""
    return base64.urlsafe_b64encode(json.dumps([last[0], last[1], _filter_mark(f)]).encode()).decode()


def _page_after(token: str, f: reporting_pb2.SlaFilter) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        at, clock, mark = json.loads(base64.urlsafe_b64decode(token.encode()))
        UUID(clock)
    except (ValueError, TypeError):
        raise InvalidArgument.one("page_token", "is not a token this list gave") from None
    if mark != _filter_mark(f):
        raise InvalidArgument.one("page_token", "was given for a different filter")
    return str(at), str(clock)


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
