"""Section 1: realistic disclosures through all six services, end to end over gRPC.

A case counts as *done* when its timeline in reporting holds everything a case of its shape
leads to (its required referrals included). What that is, is learnt from the system itself
before the run (one calibration case per shape), so the criterion follows the referral and
MARAC work as it lands instead of being hard-coded here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from casework.intake.v1 import intake_pb2
from casework.reporting.v1 import reporting_pb2
from casework.risk.v1 import risk_pb2

from .stack import STAFF, AsyncClient

Shape = tuple[bool, bool]  # (children, HIGH risk)


def shape_of(i: int) -> Shape:
    """40 % with children, a third HIGH, spread evenly through the run."""
    return (i % 5 < 2, i % 3 == 0)


def _ts(instant: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(instant.astimezone(UTC))
    return ts


def disclosure(shape: Shape, received: datetime) -> intake_pb2.SubmitDisclosureRequest:
    children, _ = shape
    return intake_pb2.SubmitDisclosureRequest(
        idempotency_key=f"bench-{uuid.uuid4()}",
        received_at=_ts(received),
        channel=intake_pb2.VICTIM_DIRECT,
        victim=intake_pb2.Victim(
            tenant_ref=f"T-{uuid.uuid4().hex[:10]}",
            name="Synthetic Victim",
            address=intake_pb2.Address(line1="1 Example Street", postcode="NP4 6YB"),
        ),
        children=[intake_pb2.Child(age=4), intake_pb2.Child(age=9)] if children else [],
    )


def dash(case_id: str, shape: Shape, completed: datetime) -> risk_pb2.RecordDashAssessmentRequest:
    yes = 15 if shape[1] else 4  # 14+ ticks is SafeLives' visible high risk
    return risk_pb2.RecordDashAssessmentRequest(
        idempotency_key=f"dash-{case_id}",
        case_id=case_id,
        answers=[risk_pb2.DashAnswer(question=q, answer=risk_pb2.YES if q <= yes else risk_pb2.NO) for q in range(1, 25)],
        safe_to_talk=True,
        assessed_by="bench-1",
        source=risk_pb2.LANDLORD,
        completed_at=_ts(completed),
    )


@dataclass
class CaseRun:
    case_id: str
    shape: Shape
    submitted: float  # perf_counter at SubmitDisclosure
    done: float | None = None


class Driver:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.expected: dict[Shape, Counter[str]] = {}
        self.dash_retries = 0  # RecordDashAssessment answered NOT_FOUND after risk's wait
        self.watch_retries = 0  # WatchCaseTimeline answered NOT_FOUND after reporting's wait

    async def start_case(self, shape: Shape) -> CaseRun:
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        reply = await self.client.intake.SubmitDisclosure(disclosure(shape, now - timedelta(minutes=5)), metadata=STAFF, timeout=30)
        run = CaseRun(reply.case_id, shape, t0)
        # DASH completed at once: risk holds the call until it has heard of the case (ADR 0026);
        # NOT_FOUND only if that took longer than its wait (a saturated stack), then try again.
        request = dash(reply.case_id, shape, now - timedelta(minutes=1))
        while True:
            try:
                await self.client.risk.RecordDashAssessment(request, metadata=STAFF, timeout=30)
                return run
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                self.dash_retries += 1

    async def entries(self, case_id: str) -> Counter[str]:
        try:
            return Counter(e.event_type for e in (await self.client.timeline(case_id)).entries)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return Counter()
            raise

    def complete(self, run: CaseRun, seen: Counter[str]) -> bool:
        return not (self.expected[run.shape] - seen)

    async def calibrate(self, settle_s: float = 2.0, timeout_s: float = 60.0) -> dict[str, dict[str, int]]:
        """One case of each shape, run until its timeline stops changing."""
        shapes: list[Shape] = [(c, h) for c in (False, True) for h in (False, True)]
        runs = await asyncio.gather(*(self.start_case(s) for s in shapes))
        last: dict[str, Counter[str]] = {}
        stable_since = time.monotonic()
        deadline = stable_since + timeout_s
        while time.monotonic() < deadline:
            now = {r.case_id: await self.entries(r.case_id) for r in runs}
            if now != last or not all(now.values()):
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= settle_s:
                break
            await asyncio.sleep(0.1)
        for run in runs:
            self.expected[run.shape] = last[run.case_id]
        return {f"children={c} high={h}": dict(v) for (c, h), v in self.expected.items()}

    async def follow(self, run: CaseRun, timeout_s: float = 60.0) -> CaseRun:
        """Watch the case's timeline (`WatchCaseTimeline`, ADR 0028) until it is complete: the
        time is when reporting's update arrives, pushed by the commit that completed the case.
        (This polled `GetCaseTimeline` before: its resolution coarsened and its reads crowded
        out the work under load — the probe was itself a load.)"""
        request = reporting_pb2.WatchCaseTimelineRequest(case_id=run.case_id)
        give_up = time.perf_counter() + timeout_s
        while run.done is None and (left := give_up - time.perf_counter()) > 0:
            call = self.client.reporting.WatchCaseTimeline(request, metadata=STAFF, timeout=left)
            seen: Counter[str] = Counter()
            try:
                async for update in call:
                    seen.update(e.event_type for e in update.entries)
                    if self.complete(run, seen):
                        run.done = time.perf_counter()
                        break
                else:
                    return run  # the stream ended without the case complete: lost
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return run
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                # Reporting had not heard of the case within its arrival wait (ADR 0026): the
                # stack is behind, the case is not lost. Watch again, as a caller would.
                self.watch_retries += 1
            finally:
                call.cancel()
        return run


async def saturate(
    driver: Driver, count: int, concurrency: int = 64, timeout_s: float = 600.0,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> dict[str, Any]:
    """As many disclosures as the system takes: sustained rate until the last one is complete.
    Completion is watched through reporting's timeline row count (no per-case polling load), then
    every case's timeline is checked once."""
    client = driver.client
    before = (await client.event_counts("reporting")).get("rows:timeline_entries", 0)
    shapes = [shape_of(i) for i in range(count)]
    expected_entries = sum(sum(driver.expected[s].values()) for s in shapes)
    gate = asyncio.Semaphore(concurrency)

    async def one(shape: Shape) -> CaseRun:
        async with gate:
            return await driver.start_case(shape)

    cpu_started = cpu() if cpu else {}
    started = time.perf_counter()
    runs = await asyncio.gather(*(one(s) for s in shapes))
    accepted = time.perf_counter()
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        have = (await client.event_counts("reporting")).get("rows:timeline_entries", 0) - before
        if have >= expected_entries:
            break
        await asyncio.sleep(0.1)
    finished = time.perf_counter()
    cpu_finished = cpu() if cpu else {}  # before the per-case checks below, which are reads
    incomplete = 0
    check = asyncio.Semaphore(32)

    async def verify(run: CaseRun) -> None:
        # The store count can reach its mark while a few cases still wait for their last events
        # (other events, e.g. SLA marks, count too): give stragglers a bounded grace, then count.
        nonlocal incomplete
        grace_until = time.perf_counter() + 60.0
        async with check:
            while not driver.complete(run, await driver.entries(run.case_id)):
                if time.perf_counter() > grace_until:
                    incomplete += 1
                    return
                await asyncio.sleep(0.5)

    await asyncio.gather(*(verify(r) for r in runs))
    return {
        "disclosures": count,
        "seconds": finished - started,
        "per_second": count / (finished - started),
        "accepted_per_second": count / (accepted - started),
        "incomplete": incomplete,
        "cpu_seconds": {k: cpu_finished[k] - v for k, v in cpu_started.items() if k in cpu_finished},
    }


async def paced(driver: Driver, rate: float, duration_s: float) -> dict[str, object]:
    """A steady `rate` of disclosures; latency from SubmitDisclosure to complete in reporting."""
    count = max(1, int(rate * duration_s))
    tasks: list[asyncio.Task[CaseRun]] = []

    async def one(i: int) -> CaseRun:
        run = await driver.start_case(shape_of(i))
        return await driver.follow(run)

    t0 = time.perf_counter()
    for i in range(count):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    runs = await asyncio.gather(*tasks)
    latencies = [(r.done - r.submitted) * 1000 for r in runs if r.done is not None]
    return {"disclosures": count, "latencies_ms": latencies, "lost": sum(1 for r in runs if r.done is None)}
