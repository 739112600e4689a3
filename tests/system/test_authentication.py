"""On the running stack, every service refuses a call without a current token from the trusted
issuer for its audience — and says why — while health checks stay open to probes."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.auth import DevIssuer
from caseplatform.devstack.stack import DevStack
from casework.common.v1 import ops_pb2, ops_pb2_grpc

pytestmark = pytest.mark.system


def store_stats(stack: DevStack, service: str, token: str | None) -> grpc.StatusCode:
    metadata = [("authorization", f"Bearer {token}")] if token is not None else []
    with grpc.insecure_channel(stack.grpc_address(service)) as channel:
        try:
            ops_pb2_grpc.OpsServiceStub(channel).GetStoreStats(ops_pb2.GetStoreStatsRequest(), metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_each_service_refuses_missing_forged_expired_and_foreign_tokens(stack: DevStack, tmp_path: Path) -> None:
    trusted = DevIssuer(DevIssuer.default_dir(stack.data_dir))
    forged = DevIssuer(tmp_path / "forger")  # same issuer name, a key the services do not trust
    tokens = {
        "no token": None,
        "forged signature": forged.mint("landlord", "operations", "ops-1"),
        "expired": trusted.mint("landlord", "operations", "ops-1", ttl_s=60, issued_at=time.time() - 3600),
        "wrong audience": trusted.mint("landlord", "operations", "ops-1", audience="another-system"),
    }
    outcomes = {(s, case): store_stats(stack, s, t) for s in stack.services for case, t in tokens.items()}
    assert set(outcomes.values()) == {grpc.StatusCode.UNAUTHENTICATED}, outcomes
    good = trusted.mint("landlord", "operations", "ops-1")
    assert {s: store_stats(stack, s, good) for s in stack.services} == dict.fromkeys(stack.services, grpc.StatusCode.OK)


def test_the_reason_is_given(stack: DevStack) -> None:
    trusted = DevIssuer(DevIssuer.default_dir(stack.data_dir))
    expired = trusted.mint("landlord", "CHO", "cho-7", ttl_s=60, issued_at=time.time() - 3600)
    with grpc.insecure_channel(stack.grpc_address("intake")) as channel, pytest.raises(grpc.RpcError) as raised:
        ops_pb2_grpc.OpsServiceStub(channel).GetStoreStats(
            ops_pb2.GetStoreStatsRequest(), metadata=[("authorization", f"Bearer {expired}")], timeout=10
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.details() == "token expired"


def test_health_needs_no_token(stack: DevStack) -> None:
    for service in stack.services:
        with grpc.insecure_channel(stack.grpc_address(service)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
