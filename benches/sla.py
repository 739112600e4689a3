"""Section 2: SLA breach detection lag — many clocks due at the same instant; how long after
that instant each `reporting.v1.SlaBreached` is on Kafka.

Needs the SLA engine (reporting's `ListSlaBreaches`); skipped with the reason until it is there.
The clocks are the children's-referral deadlines intake starts (midnight of the day a disclosure
with children is received): the stack's clock is started shortly before a midnight, so every
clock falls due at that one instant.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from caseplatform.calendar import LONDON
from caseplatform.envelope import from_timestamp, parse_envelope
from caseplatform.topology import topic_for

from .load import disclosure
from .report import percentile
from .stack import STAFF, AsyncClient, new_stack

RPC = "reporting.v1.ReportingService/ListSlaBreaches"
BREACHED = "reporting.v1.SlaBreached"


async def run(data_dir: Path, clocks: int, applied_rate_guess: float = 25.0) -> dict[str, float]:
    # Long enough for the whole stack to have applied the load before the clocks fall due: the
    # lag measured is the watch's, not that of a backlog (while catching up, reporting rightly
    # holds breaches back: the event that met a clock may still be on its way).
    lead_s = max(60.0, clocks / applied_rate_guess * 1.5)
    midnight = datetime(2027, 6, 10, tzinfo=LONDON)  # a Thursday; no bank holiday either side
    start = midnight - timedelta(seconds=lead_s)
    # One anchor for every service: the stack's clock is exactly `start` at `anchor`, so the
    # stack time of any real instant is known here too (no offset to estimate).
    anchor = datetime.now(UTC)
    offset = (start - anchor).total_seconds()
    stack = new_stack(data_dir, CASEWORK_CLOCK_START=start.isoformat(), CASEWORK_CLOCK_ANCHOR=anchor.isoformat())
    await asyncio.to_thread(stack.start)
    client = AsyncClient(stack)
    try:
        gate = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with gate:
                received = datetime.now(UTC) + timedelta(seconds=offset) - timedelta(minutes=1)
                await client.intake.SubmitDisclosure(disclosure((True, False), received), metadata=STAFF, timeout=30)

        await asyncio.gather(*(one(i) for i in range(clocks)))
        await _settled(client)
        settled_before_due_s = midnight.timestamp() - (time.time() + offset)
        lags = await _breach_lags(stack.broker.bootstrap, midnight, offset, clocks, timeout_s=lead_s + 120)
    finally:
        await client.close()
        await asyncio.to_thread(stack.stop)
    return {"clocks": clocks, "breaches_seen": len(lags), "p50_s": percentile(lags, 50), "p99_s": percentile(lags, 99),
            "settled_before_due_s": settled_before_due_s}


async def _settled(client: AsyncClient, quiet_s: float = 3.0) -> None:
    """Until reporting's store has stopped growing for `quiet_s` (the load fully applied)."""
    last, since = None, time.monotonic()
    while time.monotonic() - since < quiet_s:
        now = await client.event_counts("reporting")
        if now != last:
            last, since = now, time.monotonic()
        await asyncio.sleep(0.5)


async def _breach_lags(bootstrap: str, due: datetime, offset: float, expected: int, timeout_s: float) -> list[float]:
    consumer = AIOKafkaConsumer(topic_for("reporting"), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    lags: list[float] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(lags) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now_stack = time.time() + offset
            for records in batch.values():
                for r in records:
                    event = parse_envelope(r.value)
                    if event.event_type == BREACHED and from_timestamp(event.envelope.occurred_at) >= due - timedelta(seconds=1):
                        lags.append(max(0.0, now_stack - due.timestamp()))
    finally:
        await consumer.stop()
    return lags
