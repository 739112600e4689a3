"""ListSlaBreaches over a real socket, page by page (ADR 0035): pages follow each other with
nothing repeated or skipped, the area filter holds across pages, and a bad page request is
refused by field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.testing import TestIdentities, controlled_clock, refused_as_invalid
from casework.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from reporting.entrypoints import grpc_api, sla_grpc

from .sla_helpers import GOOD_FRIDAY_EVENING, Feed, app_for, case_id_for, disclosure, watch_for

STAFF = (("x-agency", "landlord"), ("x-role", "OPERATIONS"), ("x-user", "ops-1"))
NORTH, SOUTH = "Torfaen North", "Torfaen South"


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[reporting_pb2_grpc.ReportingServiceStub]:
    """Seven safe-contact breaches a minute apart, every third case in the south."""
    identities = TestIdentities(tmp_path / "issuer")
    with controlled_clock(GOOD_FRIDAY_EVENING) as clock:
        app = app_for(tmp_path / "store")
        feed = Feed(app)
        for i in range(7):
            case = case_id_for(f"paged-{i}")
            due = GOOD_FRIDAY_EVENING + timedelta(minutes=30 + i)
            feed.send("intake", case, disclosure(case, GOOD_FRIDAY_EVENING, preferred_contact_at=due,
                                                 area=SOUTH if i % 3 == 2 else NORTH), GOOD_FRIDAY_EVENING)
        clock.set(GOOD_FRIDAY_EVENING + timedelta(hours=1))
        watch_for(app).tick()
        port = free_port()
        server, _ = build_server("reporting", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port,
                                 identities.verifier)
        await server.start()
        channel = identities.aio_channel(f"127.0.0.1:{port}")
        yield reporting_pb2_grpc.ReportingServiceStub(channel)
        await channel.close()
        await server.stop(grace=None)
        app.close()


async def pages(stub: Any, size: int, sla_filter: reporting_pb2.SlaFilter) -> list[list[str]]:
    out, token = [], ""
    while True:
        page = await stub.ListSlaBreaches(reporting_pb2.ListSlaBreachesRequest(
            filter=sla_filter, page_size=size, page_token=token), metadata=STAFF)
        out.append([b.case_id for b in page.breaches])
        token = page.next_page_token
        if not token:
            return out


async def test_pages_follow_each_other_in_the_order_of_the_whole_list(reporting: Any) -> None:
    everything = await reporting.ListSlaBreaches(reporting_pb2.ListSlaBreachesRequest(), metadata=STAFF)
    whole = [b.case_id for b in everything.breaches]
    assert len(whole) == 7 and not everything.next_page_token
    assert whole == [case_id_for(f"paged-{i}") for i in range(7)]  # by breach instant
    assert await pages(reporting, 3, reporting_pb2.SlaFilter()) == [whole[:3], whole[3:6], whole[6:]]
    north = await pages(reporting, 2, reporting_pb2.SlaFilter(area=NORTH))
    assert [c for page in north for c in page] == [c for i, c in enumerate(whole) if i % 3 != 2]
    assert all(len(page) == 2 for page in north[:-1])


async def test_a_bad_page_request_is_refused_by_field(reporting: Any) -> None:
    first = await reporting.ListSlaBreaches(reporting_pb2.ListSlaBreachesRequest(page_size=2), metadata=STAFF)
    token = first.next_page_token
    for request, field, reason in (
        (reporting_pb2.ListSlaBreachesRequest(page_size=-1), "page_size", "must not be negative"),
        (reporting_pb2.ListSlaBreachesRequest(page_size=2, page_token="not-a-token"), "page_token",
         "is not a token this list gave"),
        (reporting_pb2.ListSlaBreachesRequest(page_size=2, page_token=token, filter=reporting_pb2.SlaFilter(area=NORTH)),
         "page_token", "was given for a different filter"),
        (reporting_pb2.ListSlaBreachesRequest(page_token=token), "page_size", "is needed with a page_token"),
    ):
        assert await refused_as_invalid(reporting.ListSlaBreaches, request, metadata=STAFF) == {field: reason}


async def test_more_matches_than_one_answer_may_carry_are_refused_with_what_to_do(
    reporting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without page_size every match comes in one answer, up to `UNPAGED_MAX`; beyond it (an
    answer a gRPC client would refuse as too large) the caller is told to page, by field. The
    area filter is applied first: what counts is what matches, not what the rows hold."""
    monkeypatch.setattr(sla_grpc, "UNPAGED_MAX", 5)
    north = await reporting.ListSlaBreaches(
        reporting_pb2.ListSlaBreachesRequest(filter=reporting_pb2.SlaFilter(area=NORTH)), metadata=STAFF)
    assert len(north.breaches) == 5  # seven breaches, five of them in the north: all in one answer
    everything = reporting_pb2.ListSlaBreachesRequest()
    assert await refused_as_invalid(reporting.ListSlaBreaches, everything, metadata=STAFF) == {
        "page_size": "is needed: more than 5 breaches match this filter (ask for pages of at most 1,000 "
                     "and follow next_page_token)"}
    paged = await pages(reporting, 5, reporting_pb2.SlaFilter())
    assert [len(page) for page in paged] == [5, 2]
