"""Partners keep long calls alive with pings; the server must not cut them for it."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.devstack.ports import free_ports
from caseplatform.grpc_server import CLIENT_PING_MIN_S, build_server
from caseplatform.testing import TestIdentities


async def test_a_partner_pinging_every_ten_seconds_keeps_its_stream(tmp_path: Path) -> None:
    # gRPC's default server policy sends GOAWAY "too_many_pings" after the third such ping (~30 s),
    # failing the stream UNAVAILABLE: this test failed so before the policy was set.
    (port,) = free_ports(1)
    server, health = build_server("intake", [], [], port, TestIdentities(tmp_path / "issuer").verifier)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    pinging = [("grpc.keepalive_time_ms", CLIENT_PING_MIN_S * 1000), ("grpc.keepalive_permit_without_calls", 1),
               ("grpc.http2.max_pings_without_data", 0)]
    held_for = 4 * CLIENT_PING_MIN_S - 5  # past the third ping
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=pinging) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=held_for)
            started = time.monotonic()
            try:
                async for update in watch:
                    assert update.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.aio.AioRpcError as ended:
                assert ended.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (ended.code(), ended.details())
            assert time.monotonic() - started >= held_for - 1
    finally:
        await server.stop(grace=None)
