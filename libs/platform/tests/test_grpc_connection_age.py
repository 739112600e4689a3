"""Callers move to a new connection every `max_connection_age_s` (ADR 0041), so a Service's
proxy can send them to replicas added since they connected; their calls and streams do not fail
for it. Through `L4Proxy` (a stand-in for the Service's proxy), which counts connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.devstack.ports import free_ports
from caseplatform.grpc_server import build_server
from caseplatform.l4_proxy import L4Proxy
from caseplatform.testing import TestIdentities

MAX_AGE_S = 1.0


async def _serving(tmp_path: Path, max_age_s: float) -> tuple[grpc.aio.Server, str]:
    (port,) = free_ports(1)
    server, health = build_server("intake", [], [], port, TestIdentities(tmp_path / "issuer").verifier,
                                  max_connection_age_s=max_age_s)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def aged(tmp_path: Path) -> AsyncIterator[str]:
    server, address = await _serving(tmp_path, MAX_AGE_S)
    yield address
    await server.stop(grace=None)


async def _calls_for(seconds: float, target: str) -> int:
    """Health checks every 50 ms on one channel; every one must succeed. Returns how many."""
    done = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            done += 1
            await asyncio.sleep(0.05)
    return done


async def test_a_caller_is_moved_to_new_connections_without_a_failed_call(aged: str) -> None:
    with L4Proxy([aged]) as proxy:
        calls = await _calls_for(4 * MAX_AGE_S + 0.5, proxy.address)
    assert calls > 40
    assert proxy.connections >= 3, f"one channel opened {proxy.connections} connection(s) in 4.5 s"


async def test_without_an_age_a_caller_keeps_its_one_connection(tmp_path: Path) -> None:
    server, address = await _serving(tmp_path, 0)
    try:
        with L4Proxy([address]) as proxy:
            await _calls_for(2.5, proxy.address)
        assert proxy.connections == 1
    finally:
        await server.stop(grace=None)


async def test_a_stream_outlives_the_age_of_its_connection(aged: str) -> None:
    held_for = 3 * MAX_AGE_S
    async with grpc.aio.insecure_channel(aged) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=held_for)
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            async for update in watch:
                assert update.status == health_pb2.HealthCheckResponse.SERVING
        assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, ended.value.details()
        assert time.monotonic() - started >= held_for - 0.5
