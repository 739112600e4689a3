"""Section 3: a case with many events from several services; GetCaseTimeline p99 against
reading the same entries raw from reporting's timeline table (SQL only: no gRPC, no mapping)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from casework.intake.v1 import intake_pb2
from reporting.timelines.table import TABLE

from .load import _ts, dash, disclosure
from .report import percentile
from .stack import STAFF, AsyncClient


async def build_case(client: AsyncClient, events: int) -> str:
    """A case whose timeline reaches `events` entries: consents (intake) and DASH
    reassessments (risk), alternately."""
    reply = await client.intake.SubmitDisclosure(disclosure((True, False), datetime.now(UTC) - timedelta(hours=1)), metadata=STAFF, timeout=30)
    case_id = reply.case_id
    use_dash = True
    i = 0
    while True:
        have = 0
        try:
            have = len((await client.timeline(case_id)).entries)
        except grpc.aio.AioRpcError:
            pass
        if have >= events:
            return case_id
        calls = []
        for _ in range(min(50, events - have)):
            i += 1
            if use_dash and i % 2:
                request = dash(case_id, (False, i % 4 == 1), datetime.now(UTC) - timedelta(seconds=1))
                request.idempotency_key = f"dash-{case_id}-{i}"
                calls.append(client.risk.RecordDashAssessment(request, metadata=STAFF, timeout=30))
            else:
                calls.append(client.intake.RecordConsent(intake_pb2.RecordConsentRequest(
                    idempotency_key=f"consent-{i}", case_id=case_id, decision=intake_pb2.GIVEN,
                    agencies=["police"], at=_ts(datetime.now(UTC) - timedelta(seconds=1)),
                ), metadata=STAFF, timeout=30))
        results = await asyncio.gather(*calls, return_exceptions=True)
        if any(isinstance(r, grpc.aio.AioRpcError) and r.code() != grpc.StatusCode.NOT_FOUND for r in results):
            use_dash = False  # risk refused a reassessment: carry on with intake's events only
        await asyncio.sleep(0.2)


async def measure(client: AsyncClient, store: Path, case_id: str, reads: int) -> dict[str, float]:
    api: list[float] = []
    for _ in range(reads):
        t0 = time.perf_counter()
        response = await client.timeline(case_id)
        api.append((time.perf_counter() - t0) * 1000)
    raw: list[float] = []
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        for _ in range(reads):
            t0 = time.perf_counter()
            rows = db.execute(
                f"SELECT entry FROM {TABLE} WHERE case_id = ? "
                "ORDER BY occurred_at, recorded_at, service, notification_id",
                (case_id,),
            ).fetchall()
            raw.append((time.perf_counter() - t0) * 1000)
    finally:
        db.close()
    return {
        "entries": len(response.entries),
        "stored_events": len(rows),
        "api_p50_ms": percentile(api, 50),
        "api_p99_ms": percentile(api, 99),
        "raw_p50_ms": percentile(raw, 50),
        "raw_p99_ms": percentile(raw, 99),
    }
