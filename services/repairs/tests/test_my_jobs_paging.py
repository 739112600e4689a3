"""ListMyJobs over a real socket, page by page (`caseplatform.paging`): a contractor's jobs in the
order they were assigned, with nothing repeated or skipped even when a job is reassigned between
pages; `open_only` leaves finished jobs out and still fills each page; a bad page request is
refused by field."""

from __future__ import annotations

from typing import Any

import pytest

from caseplatform.testing import refused_as_invalid
from casework.repairs.v1 import repairs_pb2
from repairs.entrypoints import grpc_api

from .helpers import open_case
from .test_grpc_api import ACME, CHO, raise_request, repairs  # noqa: F401 - fixture

JOBS = 5


async def acme_jobs(repairs: Any) -> list[str]:  # noqa: F811 - the fixture
    """Five jobs for acme-builders (and one for another contractor between them), in assignment order."""
    case_id, mine = open_case(repairs.app), []
    for i in range(JOBS + 1):
        raised = await repairs.stub.RaiseWorkOrder(raise_request(
            case_id, idempotency_key=f"wo-{i}", measures=[repairs_pb2.CCTV], priority=repairs_pb2.SECURITY),
            metadata=CHO)
        job = raised.work_order.work_order_id
        await assign(repairs, job, "other-locks" if i == 2 else "acme-builders")
        if i != 2:
            mine.append(job)
    return mine


async def assign(repairs: Any, job: str, contractor: str) -> None:  # noqa: F811 - the fixture
    await repairs.stub.AssignContractor(
        repairs_pb2.AssignContractorRequest(work_order_id=job, contractor=contractor), metadata=CHO)


async def page(repairs: Any, size: int, token: str = "", open_only: bool = False) -> tuple[list[str], str]:  # noqa: F811
    got = await repairs.stub.ListMyJobs(
        repairs_pb2.ListMyJobsRequest(page_size=size, page_token=token, open_only=open_only), metadata=ACME)
    return [j.work_order_id for j in got.jobs], got.next_page_token


async def pages(repairs: Any, size: int, open_only: bool = False) -> list[list[str]]:  # noqa: F811
    out, token = [], ""
    while True:
        jobs, token = await page(repairs, size, token, open_only)
        out.append(jobs)
        if not token:
            return out


async def test_pages_follow_each_other_in_assignment_order(repairs: Any) -> None:  # noqa: F811 - the fixture
    mine = await acme_jobs(repairs)
    whole = await repairs.stub.ListMyJobs(repairs_pb2.ListMyJobsRequest(), metadata=ACME)
    assert [j.work_order_id for j in whole.jobs] == mine and not whole.next_page_token
    assert await pages(repairs, 2) == [mine[:2], mine[2:4], mine[4:]]
    assert await pages(repairs, JOBS) == [mine]  # a full last page: no token to an empty one
    await repairs.stub.CancelWorkOrder(
        repairs_pb2.CancelWorkOrderRequest(work_order_id=mine[1], reason="tenant moved"), metadata=CHO)
    still_open = [j for j in mine if j != mine[1]]
    assert await pages(repairs, 2, open_only=True) == [still_open[:2], still_open[2:]]
    assert await pages(repairs, 2) == [mine[:2], mine[2:4], mine[4:]]  # finished jobs stay on the whole list


@pytest.mark.parametrize("moved", [0, 1], ids=["an-earlier-job", "the-pages-last-job"])
async def test_a_job_reassigned_between_pages_skips_and_repeats_nothing(
    repairs: Any, moved: int  # noqa: F811 - the fixture
) -> None:
    mine = await acme_jobs(repairs)
    first, token = await page(repairs, 2)
    assert first == mine[:2]
    await assign(repairs, mine[moved], "other-locks")  # the list shifts under the token
    rest, token = await page(repairs, 2, token)
    assert rest == mine[2:4]
    assert (await page(repairs, 2, token))[0] == mine[4:]


async def test_a_bad_page_request_is_refused_by_field(repairs: Any) -> None:  # noqa: F811 - the fixture
    await acme_jobs(repairs)
    _, token = await page(repairs, 2)
    for bad, field, reason in (
        (repairs_pb2.ListMyJobsRequest(page_size=-1), "page_size", "must not be negative"),
        (repairs_pb2.ListMyJobsRequest(page_size=2, page_token="not-a-token"), "page_token",
         "is not a token this list gave"),
        (repairs_pb2.ListMyJobsRequest(page_size=2, page_token=token, open_only=True), "page_token",
         "was given for a different filter"),
        (repairs_pb2.ListMyJobsRequest(page_token=token), "page_size", "is needed with a page_token"),
    ):
        assert await refused_as_invalid(repairs.stub.ListMyJobs, bad, metadata=ACME) == {field: reason}


async def test_more_jobs_than_one_answer_may_carry_are_refused_with_what_to_do(
    repairs: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811 - the fixture
) -> None:
    await acme_jobs(repairs)
    monkeypatch.setattr(grpc_api, "UNPAGED_MAX", JOBS)
    assert len((await repairs.stub.ListMyJobs(repairs_pb2.ListMyJobsRequest(), metadata=ACME)).jobs) == JOBS
    monkeypatch.setattr(grpc_api, "UNPAGED_MAX", JOBS - 1)
    assert await refused_as_invalid(repairs.stub.ListMyJobs, repairs_pb2.ListMyJobsRequest(), metadata=ACME) == {
        "page_size": f"is needed: more than {JOBS - 1:,} jobs match this filter (ask for pages of at most 1,000 "
                     "and follow next_page_token)"}
