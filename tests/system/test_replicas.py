"""Horizontal scale on PostgreSQL: two replicas of reporting share its store and consumer group.

The second replica joins while events flow, so partitions move between processes mid-stream.
Every upstream event must still be applied exactly once (the order of application within a
source's chain is the inbox's rule, tested in the kernel).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prometheus_client.parser import text_string_to_metric_families

from caseplatform import topology
from caseplatform.devstack.ports import free_ports
from caseplatform.devstack.stack import DevStack
from caseplatform.settings import PlatformSettings
from caseplatform.testing import postgres_or_skip
from casework.intake.v1 import intake_pb2
from reporting.application import ReportingApplication

from .client import STAFF, Client, disclosure, eventually, timestamp
from .conftest import new_stack, store_env

pytestmark = [pytest.mark.system, pytest.mark.postgres]


@pytest.fixture
def postgres_stack(tmp_path: Path) -> Iterator[tuple[DevStack, Client, str]]:
    postgres_or_skip()
    with store_env("postgres") as env, new_stack(tmp_path, **env) as stack:
        client = Client(stack)
        yield stack, client, env["CASEWORK_POSTGRES_DSN"]
        client.close()


def journey(client: Client, count: int) -> list[str]:
    """`count` disclosures, each followed by two more intake events on the same case."""
    cases = client.submit_many([disclosure(children=i % 2) for i in range(count)])
    at = timestamp(datetime.now(UTC) - timedelta(minutes=1))
    for case_id in cases:
        client.intake.RecordSafeContact(intake_pb2.RecordSafeContactRequest(
            idempotency_key=f"sc-{case_id}", case_id=case_id, outcome=intake_pb2.MADE, at=at),
            metadata=STAFF, timeout=10)
        client.intake.RecordConsent(intake_pb2.RecordConsentRequest(
            idempotency_key=f"cn-{case_id}", case_id=case_id, decision=intake_pb2.GIVEN,
            agencies=["idva"], at=at), metadata=STAFF, timeout=10)
    return cases


def counter(url: str, name: str, **labels: str) -> float:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == f"{name}_total" and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def gauge(url: str, name: str, **labels: str) -> float | None:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return found[0] if found else None


def test_two_reporting_replicas_apply_each_event_once(
    postgres_stack: tuple[DevStack, Client, str],
) -> None:
    stack, client, dsn = postgres_stack
    cases: list[str] = []
    sender = threading.Thread(target=lambda: cases.extend(journey(client, 60)))
    sender.start()
    replica = stack.add_replica("reporting", *free_ports(2))  # joins the group mid-stream
    sender.join(timeout=180)
    instances = ["reporting", replica]
    # Keep cases coming until the group has rebalanced and the replica applies its share.
    deadline = time.monotonic() + 90
    while not counter(stack.metrics_url(replica), "casework_events_consumed", outcome="processed"):
        assert time.monotonic() < deadline, "the replica was never given work"
        cases.extend(journey(client, 5))
    cases.extend(journey(client, 20))

    def published() -> float:
        return sum(counter(stack.metrics_url(s), "casework_events_published") for s in topology.SERVICES)

    def applied() -> list[float]:
        return [counter(stack.metrics_url(i), "casework_events_consumed", outcome="processed") for i in instances]

    def all_applied() -> list[float]:
        done = applied()
        assert sum(done) == published() >= 3 * len(cases), (done, published())
        return done

    shares = eventually(all_applied, timeout=120, interval=0.5)
    assert all(share > 0 for share in shares), f"one replica did no work: {shares}"
    # One replica publishes reporting's own events, the other stands by, and /metrics says which.
    held = [gauge(stack.metrics_url(i), "casework_relay_lease_held", service="reporting") for i in instances]
    assert sorted(held) == [0, 1], held

    # Each timeline as reporting's table holds it (rows written in the inbox's transaction, ADR
    # 0024, whichever replica applied them): every intake event once, none missing. The order of
    # application is the inbox's chain rule (a message is applied only after the one it names),
    # proven in libs/platform/tests/test_inbox.py.
    # the stack's data dir holds reporting's store key (events are encrypted at rest)
    store = ReportingApplication(PlatformSettings(
        casework_data_dir=stack.data_dir, casework_persistence="postgres", casework_postgres_dsn=dsn
    ))
    for case_id in cases:
        entries = store.timeline(UUID(case_id))
        from_intake = [e for e in entries if e["service"] == "intake"]
        positions = [e["notification_id"] for e in from_intake]
        assert len(set(positions)) == len(positions), f"{case_id}: an intake event applied twice"
        assert len({e["event_id"] for e in entries}) == len(entries)
        types = [e["event_type"] for e in from_intake]
        assert types.count("intake.v1.DisclosureReceived") == 1
        assert "intake.v1.SafeContactRecorded" in types and "intake.v1.ConsentRecorded" in types
