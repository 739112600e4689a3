"""Section 2: SLA breach detection lag — how long after its due instant each clock's
`reporting.v1.SlaBreached` is on Kafka, for clocks falling due together, in two shapes from the
same load (one run, so they compare):

- **within one minute** (the issue's wording): each disclosure gives a preferred contact time, and
  its safe-contact clock falls due then; the preferred times are spread evenly over one minute.
- **at one instant** (harsher, and what a landlord's day really holds): the same disclosures'
  children's-referral clocks all fall due at the one midnight (the day a disclosure with children
  is received, DOMAIN.md), half a minute after that minute has ended.

Needs the SLA engine (reporting's `ListSlaBreaches`); skipped with the reason until it is there.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from caseplatform.calendar import LONDON
from caseplatform.envelope import from_timestamp, parse_envelope, to_timestamp
from caseplatform.topology import topic_for

from .load import disclosure
from .report import percentile
from .stack import STAFF, AsyncClient, new_stack

RPC = "reporting.v1.ReportingService/ListSlaBreaches"
BREACHED = "reporting.v1.SlaBreached"
MINUTE_S = 60.0  # the spread clocks fall due over this long (a smoke run passes less)
# The least lead from the anchor to the first due instant: the stack starts (5-10 s) and a small
# load settles within it (a smoke run's 100 clocks settled ~16 s early with 25 s; 60 s before).
LEAD_FLOOR_S = 25.0
SPREAD, INSTANT = "SAFE_CONTACT", "CHILDRENS_REFERRAL"  # the clock kinds of the two shapes


async def run(data_dir: Path, clocks: int, minute_s: float = MINUTE_S, applied_rate_guess: float = 50.0) -> dict[str, float]:
    # Long enough for the whole stack to have applied the load before the first clock falls due:
    # the lag measured is the watch's, not that of a backlog (while catching up, reporting rightly
    # holds breaches back: the event that met a clock may still be on its way).
    gap_s = minute_s / 2  # from the end of that minute to the midnight: the two bursts do not overlap
    # The guess is half what this machine applies (10,000 settled 515 s early with a guess of 25/s:
    # eight idle minutes of every `make bench`); `settled_before_first_due_s` shows the margin.
    lead_s = max(LEAD_FLOOR_S, clocks / applied_rate_guess * 1.5) + minute_s + gap_s
    midnight = datetime(2027, 6, 10, tzinfo=LONDON)  # a Thursday; no bank holiday either side
    minute = midnight - timedelta(seconds=minute_s + gap_s)
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
                request = disclosure((True, False), received)
                request.safe_contact.preferred_contact_at.CopyFrom(
                    to_timestamp(minute + timedelta(seconds=minute_s * i / clocks)))
                await client.intake.SubmitDisclosure(request, metadata=STAFF, timeout=30)

        await asyncio.gather(*(one(i) for i in range(clocks)))
        await _settled(client)
        settled_before_s = minute.timestamp() - (time.time() + offset)
        lags = await _breach_lags(stack.broker.bootstrap, minute, offset, 2 * clocks, timeout_s=lead_s + 120)
    finally:
        await client.close()
        await asyncio.to_thread(stack.stop)
    spread, instant = lags[SPREAD], lags[INSTANT]
    return {"clocks": clocks, "minute_s": minute_s, "settled_before_first_due_s": settled_before_s,
            "minute_seen": len(spread), "minute_p50_s": percentile(spread, 50), "minute_p99_s": percentile(spread, 99),
            "instant_seen": len(instant), "instant_p50_s": percentile(instant, 50),
            "instant_p99_s": percentile(instant, 99)}


async def _settled(client: AsyncClient, quiet_s: float = 3.0) -> None:
    """Until reporting's store has stopped growing for `quiet_s` (the load fully applied)."""
    last, since = None, time.monotonic()
    while time.monotonic() - since < quiet_s:
        now = await client.event_counts("reporting")
        if now != last:
            last, since = now, time.monotonic()
        await asyncio.sleep(0.5)


async def _breach_lags(bootstrap: str, since: datetime, offset: float, expected: int,
                       timeout_s: float) -> dict[str, list[float]]:
    """Seconds from each clock's own due instant to its `SlaBreached` being read here, by kind."""
    consumer = AIOKafkaConsumer(topic_for("reporting"), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    lags: dict[str, list[float]] = defaultdict(list)
    try:
        deadline, seen = time.monotonic() + timeout_s, 0
        while seen < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now_stack = time.time() + offset
            for records in batch.values():
                for r in records:
                    event = parse_envelope(r.value)
                    if event.event_type != BREACHED:
                        continue
                    due = from_timestamp(event.payload.due_at)
                    if due >= since and event.payload.kind in (SPREAD, INSTANT):
                        lags[event.payload.kind].append(max(0.0, now_stack - due.timestamp()))
                        seen += 1
    finally:
        await consumer.stop()
    return lags
