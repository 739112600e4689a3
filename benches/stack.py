"""The local stack for benchmarks (as the system tests start it) and an async gRPC client."""

from __future__ import annotations

from pathlib import Path

import grpc
from google.protobuf import descriptor_pool

from caseplatform import topology
from caseplatform.auth import DevIssuer, aio_identity_interceptors
from caseplatform.devstack.ports import free_ports
from caseplatform.devstack.stack import DevStack
from casework.common.v1 import ops_pb2, ops_pb2_grpc
from casework.intake.v1 import intake_pb2_grpc
from casework.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from casework.risk.v1 import risk_pb2_grpc

STAFF = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "bench-1"))
OPERATIONS = (("x-agency", "landlord"), ("x-role", "OPERATIONS"), ("x-user", "bench-ops"))


def new_stack(data_dir: Path, **env: str) -> DevStack:
    ports = free_ports(1 + 2 * len(topology.SERVICES))
    return DevStack(
        data_dir=data_dir,
        broker_port=ports[0],
        ports={name: (ports[1 + 2 * i], ports[2 + 2 * i]) for i, name in enumerate(topology.SERVICES)},
        env=env,
    )


def has_rpc(full_name: str) -> bool:
    """Is `package.Service/Method` in the contracts on this branch? (Sections that need an RPC
    another issue adds look it up by name and say so when it is not there yet.)"""
    service, _, method = full_name.partition("/")
    # Importing the service modules puts their descriptors in the default pool.
    from caseplatform.envelope import load_contracts

    load_contracts()
    for svc in topology.SERVICES:
        __import__(f"casework.{svc}.v1.{svc}_pb2")
    try:
        found = descriptor_pool.Default().FindServiceByName(service)
    except KeyError:
        return False
    return method in found.methods_by_name


class AsyncClient:
    """One channel per service; every call carries the STAFF identity."""

    def __init__(self, stack: DevStack) -> None:
        tokens = aio_identity_interceptors(DevIssuer(DevIssuer.default_dir(stack.data_dir)))
        self.channels = {
            s: grpc.aio.insecure_channel(stack.grpc_address(s), interceptors=tokens) for s in stack.services
        }
        self.intake = intake_pb2_grpc.IntakeServiceStub(self.channels["intake"])
        self.risk = risk_pb2_grpc.RiskServiceStub(self.channels["risk"])
        self.reporting = reporting_pb2_grpc.ReportingServiceStub(self.channels["reporting"])

    async def timeline(self, case_id: str) -> reporting_pb2.GetCaseTimelineResponse:
        request = reporting_pb2.GetCaseTimelineRequest(case_id=case_id)
        return await self.reporting.GetCaseTimeline(request, metadata=STAFF, timeout=10)

    async def event_counts(self, service: str) -> dict[str, int]:
        stub = ops_pb2_grpc.OpsServiceStub(self.channels[service])
        stats = await stub.GetStoreStats(ops_pb2.GetStoreStatsRequest(), metadata=OPERATIONS, timeout=30)
        # Read models kept as rows (ADR 0024) count beside the events, as "rows:<name>".
        return {c.event_type: c.count for c in stats.event_counts} | {f"rows:{r.name}": r.rows for r in stats.read_model_rows}

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
