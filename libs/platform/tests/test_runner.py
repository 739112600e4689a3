"""The service runner keeps its long-running loops alive."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from caseplatform.audit import AccessRecord
from caseplatform.case_owners import CaseOwner
from caseplatform.envelope import OutgoingEvent
from caseplatform.runner import KernelAccess, ServiceParts, _supervised
from caseplatform.settings import PlatformSettings
from casework.intake.v1 import events_pb2

from .fakes import Counter, CounterApp


def _failures(task: str) -> float:
    return REGISTRY.get_sample_value("casework_background_task_failures_total", {"service": "source", "task": task}) or 0.0


async def test_a_loop_that_fails_or_is_cancelled_from_inside_is_restarted() -> None:
    calls = 0
    running = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError()  # as aiokafka does to in-flight sends when a connection drops
        if calls == 2:
            raise ValueError("broker said no")
        running.set()
        await asyncio.sleep(3600)

    before = _failures("test loop")
    task = asyncio.create_task(_supervised(flaky, "test loop", "source"))
    await asyncio.wait_for(running.wait(), 5)
    assert calls == 3
    assert _failures("test loop") == before + 2  # counted, so a loop failing again and again is an alert
    task.cancel()  # but a real stop is honoured
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_kernel_says_what_its_translation_can_publish(tmp_path: Path) -> None:
    """The relay decodes only what `KernelAccess.publishes` admits, so it must admit everything
    `translate` turns into a message: the read audit always, the owner index never, and the
    service's own events as the service says."""
    app = CounterApp("source", PlatformSettings(casework_data_dir=tmp_path))
    try:
        def translate(e: Any) -> OutgoingEvent | None:
            if isinstance(e, Counter.Opened):
                return OutgoingEvent(e.case_id, events_pb2.DisclosureReceived(case_id=e.case_id), occurred_at=e.timestamp)
            return None

        parts = ServiceParts(app, translate, None, [], [], publishes=lambda c: issubclass(c, Counter.Opened))
        access = KernelAccess.wire("source", parts, app.settings)
        counter = Counter(case_id="case-1", meta={})
        counter.see("e-1", meta={})
        access_record = AccessRecord(case_id="case-1", service="source", rpc="Get", agency="landlord", role="CHO",
                                     user="u-1", access_role="CHO", purpose="", outcome="ALLOWED", reason="")
        events = [*counter.collect_events(), *access_record.collect_events(),
                  *CaseOwner(case_id="case-1", cho="cho-1").collect_events()]
        verdicts = {type(e).__qualname__: (access.publishes(type(e)), access.translate(e) is not None) for e in events}
        assert verdicts == {
            "Counter.Opened": (True, True), "Counter.Seen": (False, False),
            "AccessRecord.Recorded": (True, True), "CaseOwner.Known": (False, False),
        }
        # A service that says nothing: every one of its events is decoded, kernel rules as before.
        silent = KernelAccess.wire("source", ServiceParts(app, translate, None, [], []), app.settings)
        assert silent.publishes is not None
        assert silent.publishes(Counter.Seen) and not silent.publishes(CaseOwner.Known)
    finally:
        app.close()
