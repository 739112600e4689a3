"""The SLA engine on the real stack (ADR 0016): a safe-contact deadline passes unmet and reporting
itself publishes `SlaBreached` on Kafka within a second of the due instant, exactly once; a real
Prometheus server scrapes the running services and the breach alert fires; and a rebuild of the
projection from the start of every topic equals the live one.

The shared stack lives on Good Friday 2027 (each process's clock starts there when it starts), so
the test learns reporting's clock from GetSlaStatus's `as_of` and asks for safe contact at a
preferred time a few seconds ahead: that is the due instant it lets pass."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import DecodeError

from caseplatform import topology
from caseplatform.devstack.ports import free_ports
from caseplatform.devstack.stack import DevStack
from caseplatform.envelope import UnreadableMessage, from_timestamp, parse_envelope
from caseplatform.inbox import Inbox
from caseplatform.kafka.reading import PartitionEnds
from caseplatform.settings import PlatformSettings
from caseplatform.testing import controlled_clock
from casework.common.v1.envelope_pb2 import EventEnvelope
from casework.reporting.v1 import events_pb2, reporting_pb2
from reporting.application import ReportingApplication
from reporting.sla_projection import BreachFilter
from reporting.sla_watch import SlaWatch

from .client import STAFF, Client, disclosure, eventually, timestamp

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.system
LEAD_S = 6.0  # how far ahead of reporting's clock the preferred contact time (the due instant) is


def test_breach_on_kafka_within_a_second_of_due_exactly_once(stack: DevStack, client: Client) -> None:
    case_id, due_at, offset = _case_with_contact_due_soon(client)
    breaches = asyncio.run(_watch_reporting_topic(stack.broker.bootstrap, case_id, until=due_at - offset + timedelta(seconds=LEAD_S)))
    assert len(breaches) == 1, breaches  # exactly once, however long we keep listening
    payload, arrived_wall = breaches[0]
    assert payload.kind == "SAFE_CONTACT" and payload.service == "intake"
    assert from_timestamp(payload.breached_at) == from_timestamp(payload.due_at) == due_at
    late_by = (arrived_wall - (due_at - offset)).total_seconds()
    assert 0 <= late_by <= 1.0, f"SlaBreached arrived {late_by:.3f}s after the due instant"

    status = _status(client, case_id)
    clocks = {c.kind: c for c in status.clocks}
    assert clocks["SAFE_CONTACT"].state == reporting_pb2.SLA_BREACHED
    assert clocks["CASE_RECORDED"].state == reporting_pb2.SLA_MET and clocks["CASE_RECORDED"].on_time
    listed = client.reporting.ListSlaBreaches(
        reporting_pb2.ListSlaBreachesRequest(
            filter=reporting_pb2.SlaFilter(kind="SAFE_CONTACT", area=clocks["SAFE_CONTACT"].area)
        ),
        metadata=STAFF, timeout=10,
    )
    assert [b.case_id for b in listed.breaches].count(case_id) == 1


@pytest.mark.prometheus
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus not installed (Debian package prometheus: make system-deps)")
def test_prometheus_scrapes_the_services_and_the_breach_alert_fires(stack: DevStack, client: Client, tmp_path: Path) -> None:
    port = free_ports(1)[0]
    server = _start_prometheus(stack, tmp_path, port)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        eventually(lambda: _assert_all_targets_up(api, stack), timeout=30, interval=0.5)
        _case_with_contact_due_soon(client)
        eventually(lambda: _assert_firing(api, "SlaBreached", kind="SAFE_CONTACT"), timeout=LEAD_S + 30, interval=0.5)
        # Every dashboard query is valid PromQL on the real server, over the real series.
        dashboard = json.loads((ROOT / "charts/casework/files/dashboard.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$area", ".*").replace("$kind", ".*")
                assert _query(api, expr)["status"] == "success", (panel["title"], expr)
        series = _query(api, 'casework_sla_breaches_total{kind="SAFE_CONTACT"}')["data"]["result"]
        assert series and all(set(s["metric"]) <= {"__name__", "kind", "service", "area", "job", "instance"} for s in series)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_rebuild_from_every_topic_equals_live(stack: DevStack, client: Client, tmp_path: Path) -> None:
    # The shared stack already holds clocks met, breached and late (other tests backdate receipts).
    case_id, _, _ = _case_with_contact_due_soon(client, lead_s=1.0)
    eventually(lambda: _assert_state(client, case_id, "SAFE_CONTACT", reporting_pb2.SLA_BREACHED), timeout=15)
    time.sleep(1.0)  # let every consumer settle
    live_breaches = client.reporting.ListSlaBreaches(reporting_pb2.ListSlaBreachesRequest(), metadata=STAFF, timeout=10)
    as_of = from_timestamp(_status(client, case_id).as_of)
    live = {(b.clock_id, from_timestamp(b.breached_at)) for b in live_breaches.breaches}
    assert live

    runs = asyncio.run(_read_every_topic(stack.broker.bootstrap))
    with controlled_clock(as_of):
        rebuilt = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))
        inbox = Inbox(rebuilt, rebuilt.policy)
        for (service, partition), events in sorted(runs.items(), reverse=True):  # not the live order
            inbox.apply(service, partition, events)
        watch = SlaWatch(rebuilt.sla, rebuilt.recorder, startup_hold_s=0)
        watch.follow(count=False)
        watch.sweep(as_of)
    again = {(c.clock_id, c.breached_at) for c, _ in rebuilt.sla.breaches(BreachFilter())}
    assert again == live
    # And each case's clocks, in every detail the status shows.
    for case in {b.case_id for b in live_breaches.breaches}:
        status = _status(client, case)
        _, clocks = rebuilt.sla.status(case)
        assert [(c.clock_id, c.state, c.on_time if c.met_at else False) for c in clocks] == [
            (c.clock_id, reporting_pb2.SlaState.Name(c.state).removeprefix("SLA_"), c.on_time) for c in status.clocks
        ]


# ----- helpers ------------------------------------------------------------------------------------


def _case_with_contact_due_soon(client: Client, lead_s: float = LEAD_S) -> tuple[str, datetime, timedelta]:
    """A case whose safe contact is due `lead_s` seconds from now on reporting's clock. Returns its
    id, the due instant and reporting's clock offset (its now minus the wall clock)."""
    offset = _reporting_clock_offset(client)
    now = datetime.now(UTC) + offset
    due_at = (now + timedelta(seconds=lead_s)).replace(microsecond=0)
    request = disclosure(received_at=now - timedelta(minutes=1))
    request.safe_contact.preferred_contact_at.CopyFrom(timestamp(due_at))
    case_id = client.submit(request).case_id
    eventually(lambda: _assert_has_clock(client, case_id, "SAFE_CONTACT"), timeout=lead_s + 10)
    return case_id, due_at, offset


def _reporting_clock_offset(client: Client) -> timedelta:
    """Reporting's clock minus the wall clock, from the quickest of a few GetSlaStatus calls."""
    probe = client.submit(disclosure(received_at=datetime(2027, 3, 26, 17, 40, tzinfo=UTC)))
    eventually(lambda: _status(client, probe.case_id))
    samples = []
    for _ in range(5):
        asked = datetime.now(UTC)
        as_of = from_timestamp(_status(client, probe.case_id).as_of)
        answered = datetime.now(UTC)
        samples.append((answered - asked, as_of - (asked + (answered - asked) / 2)))
    return min(samples)[1]


def _status(client: Client, case_id: str) -> reporting_pb2.GetSlaStatusResponse:
    return client.reporting.GetSlaStatus(reporting_pb2.GetSlaStatusRequest(case_id=case_id), metadata=STAFF, timeout=10)


def _assert_has_clock(client: Client, case_id: str, kind: str) -> None:
    assert kind in {c.kind for c in _status(client, case_id).clocks}


def _assert_state(client: Client, case_id: str, kind: str, state: int) -> None:
    clocks = {c.kind: c for c in _status(client, case_id).clocks}
    assert clocks[kind].state == state, clocks[kind]


async def _watch_reporting_topic(bootstrap: str, case_id: str, until: datetime) -> list[tuple[Any, datetime]]:
    """SlaBreached events for the case on reporting.events.v1, with the wall time each arrived."""
    consumer = AIOKafkaConsumer(
        topology.topic_for("reporting"), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, fetch_max_wait_ms=10,
    )
    await consumer.start()
    found: list[tuple[Any, datetime]] = []
    try:
        while datetime.now(UTC) < until:
            batch = await consumer.getmany(timeout_ms=50)
            arrived = datetime.now(UTC)
            for records in batch.values():
                for record in records:
                    try:
                        envelope = EventEnvelope.FromString(record.value)
                    except DecodeError:
                        continue  # a poison message (test_poison): consumers dead-letter it
                    if envelope.case_id == case_id and envelope.event_type == "reporting.v1.SlaBreached":
                        payload = events_pb2.SlaBreached()
                        envelope.payload.Unpack(payload)
                        found.append((payload, arrived))
    finally:
        await consumer.stop()
    return found


async def _read_every_topic(bootstrap: str) -> dict[tuple[str, int], list[Any]]:
    """Every event on every service's topic, from the start, per (service, partition) in order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # metadata for every topic
        partitions = [
            TopicPartition(topology.topic_for(s), p)
            for s in topology.SERVICES
            for p in sorted(consumer.partitions_for_topic(topology.topic_for(s)) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = PartitionEnds(consumer, await consumer.end_offsets(partitions))  # ListOffsets under-reports (ADR 0003)
        runs: dict[tuple[str, int], list[Any]] = defaultdict(list)
        remaining = set(partitions)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            ends.learn()
            for tp, records in batch.items():
                service = tp.topic.split(".")[0]
                runs[(service, tp.partition)].extend(
                    e for e in (_readable(r.value) for r in records if r.offset < ends.end(tp)) if e is not None
                )
            remaining = {tp for tp in remaining if not ends.reached(tp, await consumer.position(tp))}
        return runs
    finally:
        await consumer.stop()


def _readable(value: bytes) -> Any:
    """The event, or None for a poison message (test_poison puts one on every topic); the services'
    consumers dead-letter those, so a rebuild from the topics skips them too."""
    try:
        return parse_envelope(value)
    except UnreadableMessage:
        return None


def _start_prometheus(stack: DevStack, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    targets = "\n".join(
        f"  - job_name: {name}\n    static_configs:\n      - targets: ['{urllib.parse.urlparse(stack.metrics_url(name)).netloc}']"
        for name in stack.services
    )
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ROOT / 'charts/casework/files/alerts.yaml'}\n"
        f"scrape_configs:\n{targets}\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    return subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def _get(url: str) -> dict[str, Any]:
    try:
        with _LOCAL.open(url, timeout=5) as response:
            return json.loads(response.read())
    except OSError as exc:  # still starting: `eventually` retries assertions
        raise AssertionError(f"prometheus not answering: {exc}") from exc


def _query(api: str, expr: str) -> dict[str, Any]:
    return _get(f"{api}/query?query={urllib.parse.quote(expr)}")


def _assert_all_targets_up(api: str, stack: DevStack) -> None:
    targets = _get(f"{api}/targets")["data"]["activeTargets"]
    assert {t["labels"]["job"] for t in targets if t["health"] == "up"} == set(stack.services)


def _assert_firing(api: str, name: str, **labels: str) -> None:
    alerts = _get(f"{api}/alerts")["data"]["alerts"]
    assert any(
        a["labels"]["alertname"] == name and a["state"] == "firing"
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in alerts
    ), alerts
