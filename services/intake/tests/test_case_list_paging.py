"""ListCases over a real socket, page by page (as ListSlaBreaches, `caseplatform.paging`): pages
follow each other in case id order with nothing repeated or skipped, a filter that depends on the
time of asking (overdue) still fills each page, and a bad page request is refused by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from caseplatform.testing import refused_as_invalid
from casework.intake.v1 import intake_pb2
from intake.entrypoints import grpc_api

from .test_grpc_api import IDENTITY, request, stub, timestamp  # noqa: F401 - fixture

CASES = 8


async def eight_cases(client: Any) -> tuple[list[str], list[str]]:
    """Eight cases; every third received ten days ago (recorded late, contact overdue): (all, overdue)."""
    every, overdue = [], []
    for i in range(CASES):
        long_ago = i % 3 == 0
        received = datetime.now(UTC) - (timedelta(days=10) if long_ago else timedelta(hours=1))
        submitted = await client.SubmitDisclosure(request(
            idempotency_key=f"paged-{i}", received_at=timestamp(received),
            victim=intake_pb2.Victim(tenant_ref=f"T-{i}", name="Synthetic Person",
                                     address=intake_pb2.Address(line1="2 Test Rd", postcode="NP44 1AB")),
        ), metadata=IDENTITY)
        every.append(submitted.case_id)
        if long_ago:
            overdue.append(submitted.case_id)
    return sorted(every), sorted(overdue)


async def pages(client: Any, size: int, **wanted: Any) -> list[list[str]]:
    out, token = [], ""
    while True:
        page = await client.ListCases(intake_pb2.ListCasesRequest(page_size=size, page_token=token, **wanted),
                                      metadata=IDENTITY)
        out.append([c.case_id for c in page.cases])
        if not (token := page.next_page_token):
            return out


async def test_pages_follow_each_other_in_case_id_order(stub: Any) -> None:  # noqa: F811 - the fixture
    client, _, _ = stub
    every, overdue = await eight_cases(client)
    whole = await client.ListCases(intake_pb2.ListCasesRequest(), metadata=IDENTITY)
    assert [c.case_id for c in whole.cases] == every and not whole.next_page_token
    assert await pages(client, 3) == [every[:3], every[3:6], every[6:]]
    assert await pages(client, CASES) == [every]  # a full last page: no token to an empty one
    late = await pages(client, 2, overdue_only=True)
    assert late == [overdue[:2], overdue[2:]]  # each page filled, though most rows are not overdue
    assert all(c.overdue for c in (await client.ListCases(
        intake_pb2.ListCasesRequest(overdue_only=True), metadata=IDENTITY)).cases)
    assert await pages(client, 5000) == [every]  # above 1,000: taken as 1,000


async def test_a_bad_page_request_is_refused_by_field(stub: Any) -> None:  # noqa: F811 - the fixture
    client, _, _ = stub
    await eight_cases(client)
    first = await client.ListCases(intake_pb2.ListCasesRequest(page_size=2), metadata=IDENTITY)
    token = first.next_page_token
    assert token
    for bad, field, reason in (
        (intake_pb2.ListCasesRequest(page_size=-1), "page_size", "must not be negative"),
        (intake_pb2.ListCasesRequest(page_size=2, page_token="not-a-token"), "page_token",
         "is not a token this list gave"),
        (intake_pb2.ListCasesRequest(page_size=2, page_token=token, status="OPEN"), "page_token",
         "was given for a different filter"),
        (intake_pb2.ListCasesRequest(page_token=token), "page_size", "is needed with a page_token"),
    ):
        assert await refused_as_invalid(client.ListCases, bad, metadata=IDENTITY) == {field: reason}


async def test_more_matches_than_one_answer_may_carry_are_refused_with_what_to_do(
    stub: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811 - the fixture
) -> None:
    client, _, _ = stub
    _, overdue = await eight_cases(client)
    monkeypatch.setattr(grpc_api, "UNPAGED_MAX", 5)
    late = await client.ListCases(intake_pb2.ListCasesRequest(overdue_only=True), metadata=IDENTITY)
    assert [c.case_id for c in late.cases] == overdue  # what matches counts, not what the rows hold
    assert await refused_as_invalid(client.ListCases, intake_pb2.ListCasesRequest(), metadata=IDENTITY) == {
        "page_size": "is needed: more than 5 cases match this filter (ask for pages of at most 1,000 "
                     "and follow next_page_token)"}
