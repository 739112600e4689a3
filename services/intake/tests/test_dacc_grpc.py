"""police.v1.DaccFeed on a real socket, served by intake: every declared RPC is implemented,
callers are checked, and bad input is refused field by field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from caseplatform.devstack.ports import free_port
from caseplatform.grpc_server import build_server
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities
from casework.police.v1 import dacc_pb2, dacc_pb2_grpc
from intake.application import IntakeApplication
from intake.dacc import grpc_api
from intake.dacc.desk import DaccDesk
from intake.dacc.register import load_tenancy_register

POLICE = (("x-agency", "gwent-police"), ("x-role", "DACC officer"), ("x-user", "p-1"))
CHO = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-7"))
ADVISOR = (("x-agency", "landlord"), ("x-role", "ASB advisor"), ("x-user", "asb-1"))


def test_every_declared_rpc_is_implemented() -> None:
    base = dacc_pb2_grpc.DaccFeedServicer
    for method in dacc_pb2.DESCRIPTOR.services_by_name["DaccFeed"].methods:
        assert getattr(grpc_api.DaccFeedServicer, method.name) is not getattr(base, method.name), method.name


@pytest.fixture
async def stub(tmp_path: Path) -> AsyncIterator[dacc_pb2_grpc.DaccFeedStub]:
    identities = TestIdentities(tmp_path / "issuer")
    desk = DaccDesk(IntakeApplication(PlatformSettings(casework_data_dir=tmp_path)), load_tenancy_register())
    port = free_port()
    server, _ = build_server("intake", [grpc_api.register(desk)], grpc_api.SERVICE_NAMES, port, identities.verifier)
    await server.start()
    channel = identities.aio_channel(f"127.0.0.1:{port}")
    yield dacc_pb2_grpc.DaccFeedStub(channel)
    await channel.close()
    await server.stop(grace=None)


def incident(ref: str) -> dacc_pb2.Incident:
    return dacc_pb2.Incident(
        incident_ref=ref, date="2027-04-05", risk_grade=dacc_pb2.MEDIUM,
        parties=[dacc_pb2.Party(role=dacc_pb2.VICTIM, name="Synthetic Victim", tenant_ref="T-DACC-1004")],
    )


async def test_the_police_share_and_the_advisor_briefs(stub: dacc_pb2_grpc.DaccFeedStub) -> None:
    sent = await stub.SubmitIncidents(dacc_pb2.SubmitIncidentsRequest(incidents=[incident("GP-1")]), metadata=POLICE)
    assert (sent.new_matched, sent.results[0].matched_on) == (1, dacc_pb2.TENANT_REF)
    brief = await stub.GetDaccBriefing(dacc_pb2.GetDaccBriefingRequest(date="2027-04-05"), metadata=ADVISOR)
    assert [t.tenant_ref for t in brief.tenants] == ["T-DACC-1004"]
    assert brief.tenants[0].address.postcode == "NP23 5ZZ"


async def test_the_wrong_callers_are_refused(stub: dacc_pb2_grpc.DaccFeedStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as landlord_sends:
        await stub.SubmitIncidents(dacc_pb2.SubmitIncidentsRequest(incidents=[incident("GP-2")]), metadata=CHO)
    assert landlord_sends.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as cho_briefed:
        await stub.GetDaccBriefing(dacc_pb2.GetDaccBriefingRequest(date="2027-04-05"), metadata=CHO)
    assert cho_briefed.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_bad_input_is_refused(stub: dacc_pb2_grpc.DaccFeedStub) -> None:
    no_grade = dacc_pb2.Incident(incident_ref="GP-3", date="2027-04-05", parties=incident("x").parties)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SubmitIncidents(dacc_pb2.SubmitIncidentsRequest(incidents=[no_grade]), metadata=POLICE)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "incidents[0].risk_grade" in refused.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as bad_date:
        await stub.GetDaccBriefing(dacc_pb2.GetDaccBriefingRequest(date="5/4/2027"), metadata=ADVISOR)
    assert bad_date.value.code() == grpc.StatusCode.INVALID_ARGUMENT
