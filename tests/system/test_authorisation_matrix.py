"""Need-to-know on the running system (ADR 0021, docs/security.md "Who may see what"): every role
x every RPC of every service x own/other patch is PERMISSION_DENIED exactly where the table says,
refusals and reads land in the case's access log with their purpose, the regulator's export is
redacted, operations never read a timeline, and a partner must say why it asks."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory

from caseplatform.access import Role, Scope, role_of
from caseplatform.access_rules import RULES
from caseplatform.devstack.stack import DevStack
from caseplatform.identity import Actor
from casework.common.v1 import access_pb2
from casework.intake.v1 import intake_pb2
from casework.reporting.v1 import reporting_pb2

from .client import STAFF, Client, authenticated_channel, disclosure, eventually

pytestmark = pytest.mark.system

OWNER = "cho-torfaen-central"  # the patch register's CHO for NP4 6YB, where `disclosure()` lives


def who(agency: str, role: str, user: str) -> tuple[tuple[str, str], ...]:
    return (("x-agency", agency), ("x-role", role), ("x-user", user))


IDENTITIES = {
    "CHO own patch": who("landlord", "CHO", OWNER),
    "CHO other patch": who("landlord", "CHO", "cho-cwmbran"),
    "CSO": who("landlord", "CSO", "cso-1"),
    "HOUSING_MANAGER": who("landlord", "Housing Manager", "hm-1"),
    "ASB_ADVISOR": who("landlord", "ASB advisor", "asb-1"),
    "MARAC_COORDINATOR": who("landlord", "MARAC coordinator", "mc-1"),
    "PARTNER (police)": who("gwent-police", "officer", "pc-1"),
    "CONTRACTOR": who("acme-builders", "contractor", "fitter-1"),
    "REGULATOR": who("audit-wales", "regulator", "reg-1"),
    "OPERATIONS": who("landlord", "operations", "ops-1"),
    "unknown staff role": who("landlord", "caretaker", "c-1"),
}
PURPOSE = ("x-purpose", "authorisation matrix")
SERVED_BY = {"police.v1.DaccFeed": "intake"}


def methods() -> list[tuple[str, str, Any]]:
    """(serving service, full method, descriptor) for every RPC each process serves."""
    out = []
    for service in ("intake", "risk", "referral", "marac", "repairs", "reporting"):
        module = importlib.import_module(f"casework.{service}.v1.{service}_pb2")
        out += [(service, f"/{s.full_name}/{m.name}", m) for s in module.DESCRIPTOR.services_by_name.values() for m in s.methods]
    dacc = importlib.import_module("casework.police.v1.dacc_pb2")
    out += [("intake", f"/{s.full_name}/{m.name}", m) for s in dacc.DESCRIPTOR.services_by_name.values() for m in s.methods]
    ops = importlib.import_module("casework.common.v1.ops_pb2")
    for service in ("intake", "risk", "referral", "marac", "repairs", "reporting"):
        out += [(service, f"/{s.full_name}/{m.name}", m) for s in ops.DESCRIPTOR.services_by_name.values() for m in s.methods]
    return out


def expected_denied(identity: tuple[tuple[str, str], ...], method: str, names_case: bool) -> bool:
    actor = Actor(*(v for _, v in identity))
    scope = RULES[method].scope_for(role_of(actor, "landlord"))
    if scope is None:
        return True
    return scope is Scope.OWN_PATCH and names_case and actor.user != OWNER


def call(channel: grpc.Channel, method: str, descriptor: Any, case_id: str, metadata: Any) -> grpc.StatusCode:
    request_class = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(descriptor.input_type.full_name))
    response_class = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(descriptor.output_type.full_name))
    request = request_class()
    if "case_id" in descriptor.input_type.fields_by_name:
        request.case_id = case_id
    try:
        if descriptor.server_streaming:
            stub = channel.unary_stream(method, request_serializer=request_class.SerializeToString,
                                        response_deserializer=response_class.FromString)
            responses = stub(request, metadata=metadata, timeout=60)
            next(responses, None)  # admitted or refused by the first answer; a watch need not end
            responses.cancel()
        else:
            stub = channel.unary_unary(method, request_serializer=request_class.SerializeToString,
                                       response_deserializer=response_class.FromString)
            stub(request, metadata=metadata, timeout=30)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def case_id(stack: DevStack) -> str:
    """One case on the owner's patch, known (with its owner) to every service."""
    client = Client(stack)
    try:
        case = client.submit(disclosure()).case_id
        owner = IDENTITIES["CHO own patch"]
        channels = {s: authenticated_channel(stack, s) for s in stack.services}
        probes = {  # a case read in each process: once allowed for the owner, the owner is known there
            "intake": "/intake.v1.IntakeService/GetCase", "risk": "/risk.v1.RiskService/GetRiskHistory",
            "referral": "/referral.v1.ReferralService/ListReferrals", "marac": "/marac.v1.MaracService/ListActions",
            "repairs": "/repairs.v1.RepairsService/GetWorkOrders", "reporting": "/reporting.v1.ReportingService/GetSlaStatus",
        }
        found = {m: d for _, m, d in methods()}
        for service, method in probes.items():
            def known(service: str = service, method: str = method) -> None:
                # NOT_FOUND until the service has intake's event for the case (and its owner)
                assert call(channels[service], method, found[method], case, owner) not in (
                    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)

            eventually(known)
        return case
    finally:
        client.close()


def test_every_role_on_every_rpc_is_refused_exactly_where_the_table_says(stack: DevStack, case_id: str) -> None:
    channels = {s: authenticated_channel(stack, s) for s in stack.services}
    cells = [
        (name, identity, service, method, descriptor)
        for name, identity in IDENTITIES.items()
        for service, method, descriptor in methods()
    ]

    def run(cell: tuple[str, Any, str, str, Any]) -> tuple[str, str, bool, grpc.StatusCode]:
        name, identity, service, method, descriptor = cell
        names_case = "case_id" in descriptor.input_type.fields_by_name
        code = call(channels[service], method, descriptor, case_id, (*identity, PURPOSE))
        return name, f"{service}{method}", expected_denied(identity, method, names_case), code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, cells))
    wrong = [
        f"{name} {method}: expected {'DENIED' if denied else 'allowed'}, got {code.name}"
        for name, method, denied, code in results
        if denied != (code == grpc.StatusCode.PERMISSION_DENIED) or code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
    ]
    assert len(results) > 700
    assert wrong == []


def test_a_cho_reads_their_own_patch_and_is_refused_another(stack: DevStack, case_id: str) -> None:
    client = Client(stack)
    try:
        request = intake_pb2.GetCaseRequest(case_id=case_id)
        assert client.intake.GetCase(request, metadata=IDENTITIES["CHO own patch"], timeout=10).case_id == case_id
        with pytest.raises(grpc.RpcError) as refused:
            client.intake.GetCase(request, metadata=IDENTITIES["CHO other patch"], timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "patch" in refused.value.details()
        mine = client.intake.ListCases(intake_pb2.ListCasesRequest(), metadata=IDENTITIES["CHO other patch"], timeout=10)
        assert case_id not in {c.case_id for c in mine.cases}
    finally:
        client.close()


def test_refusals_and_reads_are_in_the_access_log_with_their_purpose(stack: DevStack, case_id: str) -> None:
    client = Client(stack)
    try:
        request = intake_pb2.GetCaseRequest(case_id=case_id)
        client.intake.GetCase(request, metadata=(*STAFF, ("x-purpose", "safety plan review")), timeout=10)
        with pytest.raises(grpc.RpcError):
            client.intake.GetCase(request, metadata=(*IDENTITIES["CHO other patch"], ("x-purpose", "curious")), timeout=10)
        manager = (*IDENTITIES["HOUSING_MANAGER"], ("x-purpose", "access review"))

        def logged() -> reporting_pb2.GetAccessLogResponse:
            log = client.reporting.GetAccessLog(reporting_pb2.GetAccessLogRequest(case_id=case_id), metadata=manager, timeout=10)
            seen = {(e.rpc, e.user, e.purpose, e.outcome) for e in log.entries}
            assert ("/intake.v1.IntakeService/GetCase", "cso-7", "safety plan review", access_pb2.ALLOWED) in seen
            assert ("/intake.v1.IntakeService/GetCase", "cho-cwmbran", "curious", access_pb2.DENIED) in seen
            return log

        log = eventually(logged)
        denied = next(e for e in log.entries if e.user == "cho-cwmbran" and e.purpose == "curious")
        assert denied.service == "intake" and denied.access_role == "CHO" and "patch" in denied.reason
        assert "Synthetic Victim" not in str(log)  # references only, never case content
        # GetAccessLog is a read too: it is itself in the log.
        eventually(lambda: next(e for e in logged().entries if e.rpc.endswith("/GetAccessLog") and e.user == "hm-1"))
        for name in ("CSO", "CHO own patch", "OPERATIONS"):
            with pytest.raises(grpc.RpcError) as refused:
                client.reporting.GetAccessLog(reporting_pb2.GetAccessLogRequest(case_id=case_id), metadata=IDENTITIES[name], timeout=10)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        client.close()


def test_a_regulator_gets_a_redacted_export_and_operations_no_timeline(stack: DevStack, case_id: str) -> None:
    client = Client(stack)
    try:
        regulator = (*IDENTITIES["REGULATOR"], ("x-purpose", "inspection 2027"))
        exported = eventually(lambda: client.reporting.ExportCaseTimeline(
            reporting_pb2.ExportCaseTimelineRequest(case_id=case_id), metadata=regulator, timeout=10))
        assert b"redacted" in exported.content and b"1 Example Street" not in exported.content
        assert client.reporting.GetCaseTimeline(
            reporting_pb2.GetCaseTimelineRequest(case_id=case_id), metadata=regulator, timeout=10).entries
        with pytest.raises(grpc.RpcError) as refused:
            client.reporting.GetCaseTimeline(
                reporting_pb2.GetCaseTimelineRequest(case_id=case_id), metadata=IDENTITIES["OPERATIONS"], timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        client.close()


def test_a_partner_or_regulator_without_a_purpose_is_asked_for_one(stack: DevStack, case_id: str) -> None:
    client = Client(stack)
    try:
        from casework.referral.v1 import referral_pb2

        for name, stub, request in (
            ("PARTNER (police)", client.referral.ListReferrals, referral_pb2.ListReferralsRequest(case_id=case_id)),
            ("REGULATOR", client.reporting.GetCaseTimeline, reporting_pb2.GetCaseTimelineRequest(case_id=case_id)),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                stub(request, metadata=IDENTITIES[name], timeout=10)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "x-purpose" in refused.value.details()
        assert Role.PARTNER  # the table's partner role is what the police identity is judged as
    finally:
        client.close()
