"""Two replicas of reporting on one PostgreSQL store (ADR 0036): a case watched on one is woken
by the commit that writes its timeline rows on the other, not by the watcher's own recheck."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from caseplatform.ids import stable_id
from caseplatform.settings import PlatformSettings
from caseplatform.testing import postgres_or_skip
from casework.intake.v1 import events_pb2 as intake_events
from reporting.application import ReportingApplication

from .helpers import Feed

pytestmark = pytest.mark.postgres
CASE = str(stable_id("test", "watched-elsewhere"))


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[PlatformSettings]:
    server = postgres_or_skip()
    dsn = server.create_database("casework_reporting_watch")
    try:
        yield PlatformSettings(casework_data_dir=tmp_path, casework_persistence="postgres", casework_postgres_dsn=dsn)
    finally:
        server.drop_database(dsn)


async def test_a_watcher_is_woken_by_another_replicas_commit(shared: PlatformSettings) -> None:
    watching_replica, applying_replica = ReportingApplication(shared), ReportingApplication(shared)
    try:
        with watching_replica.timeline_watch.watching(CASE) as changed:
            await asyncio.sleep(0.5)  # the listener connects (started by the first watch)
            assert not changed.is_set()
            Feed(applying_replica).publish(CASE, intake_events.DisclosureReceived(case_id=CASE),
                                           datetime(2027, 3, 4, 10, 0, tzinfo=UTC))
            # Woken by the commit, long before the watcher would look again by itself.
            await asyncio.wait_for(changed.wait(), timeout=watching_replica.timeline_watch.recheck_s * 0.8)
        assert [e["event_type"] for e in watching_replica.timelines.for_case(CASE)] == ["intake.v1.DisclosureReceived"]
    finally:
        watching_replica.close()
        applying_replica.close()
