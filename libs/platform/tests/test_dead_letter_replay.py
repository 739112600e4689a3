"""ADR 0039 on a real broker, over a real gRPC socket: what a consumer stepped over is listed with
its reason, refused while the policy still fails on it, replayed exactly once after the fix,
and what cannot or must not be replayed is refused with the reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from caseplatform.access_guard import AccessGuard
from caseplatform.access_rules import RULES
from caseplatform.audit import ReadAudit
from caseplatform.dead_letters import DeadLetters, DeadLetterShelf, count_pending
from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.inbox import Inbox
from caseplatform.kafka.admin import ensure_topics
from caseplatform.ops import OpsServicer, register_ops
from caseplatform.runner import wire_broker
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities, running_broker
from caseplatform.topology import dead_letter_topic_for, topic_for
from casework.common.v1 import ops_pb2, ops_pb2_grpc

from .fakes import Counter, CounterApp, incoming

pytestmark = pytest.mark.system

TOPIC, SHELF = topic_for("intake"), dead_letter_topic_for("risk")
OPERATIONS = (("x-agency", "landlord"), ("x-role", "operations"), ("x-user", "ops-1"))
CSO = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "cso-1"))
PENDING, REPLAYED = ops_pb2.DEAD_LETTER_STATE_PENDING, ops_pb2.DEAD_LETTER_STATE_REPLAYED
UNREADABLE, NOT_SET_ASIDE = ops_pb2.DEAD_LETTER_STATE_UNREADABLE, ops_pb2.DEAD_LETTER_STATE_NOT_SET_ASIDE


async def _until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    give_up = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < give_up, "not reached in time"
        await asyncio.sleep(0.1)


def _pending() -> float | None:
    return REGISTRY.get_sample_value("casework_dead_letters_pending", {"service": "risk"})


def _replayed_count() -> float:
    return REGISTRY.get_sample_value(
        "casework_events_consumed_total", {"service": "risk", "source_service": "intake", "outcome": "replayed"}
    ) or 0.0


def test_dead_letters_are_listed_replayed_once_after_the_fix_and_refused_with_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("caseplatform.dead_letters.PENDING_REFRESH_S", 0.1)  # once a minute in service
    with running_broker(tmp_path / "broker") as tansu:
        asyncio.run(_scenario(tansu.bootstrap, tmp_path))


async def _scenario(bootstrap: str, tmp_path: Path) -> None:
    settings = PlatformSettings(casework_data_dir=tmp_path, kafka_bootstrap_servers=bootstrap)
    await ensure_topics(bootstrap, [TOPIC, SHELF], 3)
    app = CounterApp("risk", settings)
    inbox = Inbox(app, app.policy)
    counting = asyncio.create_task(count_pending("risk", inbox))
    first, poison, after = incoming("a", 1, 0), incoming("b", 2, 1, tenant_ref="POISON"), incoming("c", 3, 2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in (first, poison, after):
            await producer.send_and_wait(TOPIC, event.envelope.SerializeToString(), key=b"k", partition=0)
        await producer.send_and_wait(TOPIC, b"\x08\x96\x01 not an envelope", key=b"k", partition=1)
    finally:
        await producer.stop()

    broker = wire_broker("risk", settings, inbox)
    await broker.start()
    identities = TestIdentities(tmp_path / "issuer")
    port = free_port()
    ops = OpsServicer(app, SimpleNamespace(position=0), DeadLetters(  # type: ignore[arg-type]
        "risk", ("intake",), DeadLetterShelf("risk", bootstrap), inbox))
    guard = AccessGuard("risk", RULES, ReadAudit(app), lambda _case: None, landlord="landlord")
    server, _ = build_server("risk", [lambda s: register_ops(s, ops)], ["common.v1.OpsService"], port,
                             identities.verifier, guard=guard)
    await server.start()
    channel = identities.aio_channel(f"127.0.0.1:{port}")
    stub = ops_pb2_grpc.OpsServiceStub(channel)

    async def listed(**request: object) -> ops_pb2.ListDeadLettersResponse:
        return await stub.ListDeadLetters(ops_pb2.ListDeadLettersRequest(**request), metadata=OPERATIONS, timeout=30)

    async def replay(partition: int, offset: int) -> ops_pb2.ReplayDeadLetterResponse:
        return await stub.ReplayDeadLetter(ops_pb2.ReplayDeadLetterRequest(partition=partition, offset=offset),
                                           metadata=OPERATIONS, timeout=30)

    async def refusal(call: object) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call  # type: ignore[misc]
        return refused.value

    try:
        await _until(lambda: inbox.tracked("intake", 0) == 3)
        letters: list[ops_pb2.DeadLetter] = []
        for _ in range(100):  # the unreadable one is parked by the consumer's own path
            letters = list((await listed()).dead_letters)
            if len(letters) == 2:
                break
            await asyncio.sleep(0.2)
        by_state = {letter.state: letter for letter in letters}
        assert set(by_state) == {PENDING, UNREADABLE}, letters
        stepped = by_state[PENDING]
        assert (stepped.event_type, stepped.case_id, stepped.event_id) == (
            "intake.v1.DisclosureReceived", "b", poison.envelope.event_id)
        assert (stepped.original_topic, stepped.original_partition, stepped.source_notification_id) == (TOPIC, 0, 2)
        assert "cannot apply this one" in stepped.reason
        await _until(lambda: _pending() == 1)  # the unreadable one is not counted: nothing to replay
        assert "not an EventEnvelope" in by_state[UNREADABLE].reason and not by_state[UNREADABLE].event_id

        denied = await refusal(stub.ListDeadLetters(ops_pb2.ListDeadLettersRequest(), metadata=CSO, timeout=30))
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED

        # The defect is not fixed yet: refused with the policy's reason, nothing recorded.
        still = await refusal(replay(stepped.partition, stepped.offset))
        assert still.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "still fails" in still.details() and "cannot apply this one" in still.details()
        assert [d.state for d in (await listed(pending_only=True)).dead_letters] == [PENDING]

        app.refuses = None  # the fixed build is deployed
        replayed_before = _replayed_count()
        done = await replay(stepped.partition, stepped.offset)
        assert done.outcome == ops_pb2.REPLAY_OUTCOME_REPLAYED and done.dead_letter.state == REPLAYED
        operator = (done.dead_letter.replayed_by.agency, done.dead_letter.replayed_by.role, done.dead_letter.replayed_by.user)
        assert operator == ("landlord", "operations", "ops-1")  # who asked, from the store
        assert abs(done.dead_letter.replayed_at.ToDatetime().timestamp() - time.time()) < 60
        assert not stepped.HasField("replayed_by")  # listed before the replay
        assert app.repository.get(Counter.create_id("b")).seen == [poison.envelope.event_id]
        again = await replay(stepped.partition, stepped.offset)
        assert again.outcome == ops_pb2.REPLAY_OUTCOME_ALREADY_REPLAYED
        assert app.repository.get(Counter.create_id("b")).seen == [poison.envelope.event_id]  # once
        assert _replayed_count() == replayed_before + 1
        assert _pending() == 0
        assert not (await listed(pending_only=True)).dead_letters
        [shown] = [d for d in (await listed()).dead_letters if d.state == REPLAYED]
        assert (shown.replayed_by, shown.replayed_at) == (done.dead_letter.replayed_by, done.dead_letter.replayed_at)

        garbage = await refusal(replay(by_state[UNREADABLE].partition, by_state[UNREADABLE].offset))
        assert garbage.code() == grpc.StatusCode.FAILED_PRECONDITION and "nothing to replay" in garbage.details()

        # A dead letter of an event that was in fact applied (published, then the process stopped
        # before the step was recorded, and the event applied when read again): never replayed.
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            copy = await producer.send_and_wait(SHELF, first.envelope.SerializeToString(), partition=2, headers=[
                ("dead-letter-reason", b"TimeoutError: a store that did not answer"),
                ("original-topic", TOPIC.encode()), ("original-partition", b"0")])
        finally:
            await producer.stop()
        applied = [d for d in (await listed()).dead_letters if d.offset == copy.offset and d.partition == 2]
        assert [d.state for d in applied] == [NOT_SET_ASIDE]
        twice = await refusal(replay(2, copy.offset))
        assert twice.code() == grpc.StatusCode.FAILED_PRECONDITION and "apply twice" in twice.details()
        assert app.repository.get(Counter.create_id("a")).seen == [first.envelope.event_id]

        # Paging, and requests naming what is not there.
        page = await listed(page_size=2)
        assert len(page.dead_letters) == 2 and page.next_page_token
        rest = await listed(page_size=2, page_token=page.next_page_token)
        assert len(rest.dead_letters) == 1 and not rest.next_page_token
        assert {(d.partition, d.offset) for d in [*page.dead_letters, *rest.dead_letters]} == {
            (d.partition, d.offset) for d in (await listed()).dead_letters}
        for request, field in (({"page_size": 1001}, "page_size"), ({"page_token": "yesterday"}, "page_token")):
            bad = await refusal(listed(**request))
            assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and field in bad.details()
        no_partition = await refusal(replay(7, 0))
        assert no_partition.code() == grpc.StatusCode.INVALID_ARGUMENT and "partition" in no_partition.details()
        no_offset = await refusal(replay(stepped.partition, 999))
        assert no_offset.code() == grpc.StatusCode.NOT_FOUND
    finally:
        counting.cancel()
        await channel.close()
        await server.stop(None)
        await broker.stop()
        app.close()
