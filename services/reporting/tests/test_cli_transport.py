"""casectl in production: mutual TLS to reporting, as the services speak it (ADR 0020), and no
token or case data sent in clear beyond this machine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from uuid import uuid4

import pytest
from google.protobuf import json_format

from caseplatform.devstack.ports import free_ports
from caseplatform.grpc_server import build_server
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities, issue_certificate, pem
from caseplatform.tls import TlsConfig
from casework.common.v1 import envelope_pb2, ops_pb2
from casework.reporting.v1 import reporting_pb2
from reporting.application import ReportingApplication
from reporting.cli.app import _marks, breach_request
from reporting.cli.connection import CliError, Connection
from reporting.entrypoints import grpc_api


def write_pki(folder: Path) -> dict[str, Path]:
    ca_key, ca_cert = issue_certificate("casework-test-ca", None, None, ca=True)
    files = {"ca": folder / "ca.crt"}
    files["ca"].write_bytes(pem(ca_key, ca_cert)[1])
    for name, san in (("server", True), ("casectl", False)):
        key, cert = pem(*issue_certificate(name, ca_key, ca_cert.subject, san=san))
        files[f"{name}_key"], files[f"{name}_cert"] = folder / f"{name}.key", folder / f"{name}.crt"
        files[f"{name}_key"].write_bytes(key)
        files[f"{name}_cert"].write_bytes(cert)
    return files


async def test_casectl_reaches_reporting_over_mutual_tls_and_only_with_its_certificate(tmp_path: Path) -> None:
    pki = write_pki(tmp_path)
    identities = TestIdentities(tmp_path / "issuer")
    app = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path / "store"))
    (port,) = free_ports(1)
    server, _ = build_server(
        "reporting", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port, identities.verifier,
        tls=TlsConfig(cert=pki["server_cert"], key=pki["server_key"], client_ca=pki["ca"]),
    )
    await server.start()
    try:
        token = identities.issuer.mint("landlord", "HOUSING_MANAGER", "hm-1")
        case_id = str(uuid4())

        def connection(**tls: Path) -> Connection:
            return Connection(f"localhost:{port}", "landlord", "HOUSING_MANAGER", "hm-1", token=token, timeout=5, **tls)

        mutual = connection(tls_ca=pki["ca"], tls_cert=pki["casectl_cert"], tls_key=pki["casectl_key"])
        log = await asyncio.to_thread(mutual.call, "GetAccessLog", reporting_pb2.GetAccessLogRequest(case_id=case_id))
        assert log.case_id == case_id and not log.entries
        without_certificate = connection(tls_ca=pki["ca"])
        with pytest.raises(CliError):
            await asyncio.to_thread(without_certificate.call, "GetAccessLog", reporting_pb2.GetAccessLogRequest(case_id=case_id))
    finally:
        await server.stop(grace=None)


def test_casectl_refuses_plaintext_beyond_loopback(tmp_path: Path) -> None:
    remote = Connection("reporting.casework.svc:50051", "landlord", "HOUSING_MANAGER", "hm-1", token="t")
    with pytest.raises(CliError, match="--tls-ca"):
        remote.channel()
    half = Connection("reporting.casework.svc:50051", "landlord", "HOUSING_MANAGER", "hm-1", token="t",
                      tls_ca=tmp_path / "ca.crt", tls_cert=tmp_path / "c.crt")
    with pytest.raises(CliError, match="go together"):
        half.channel()


def test_casectl_shows_a_deadline_mark_of_a_newer_server_instead_of_failing() -> None:
    entry = reporting_pb2.TimelineEntry()
    entry.deadlines.add(kind="SAFE_CONTACT", mark=reporting_pb2.MET)
    entry.deadlines.add(kind="RISK_ASSESSMENT", mark=77)  # a mark this build of casectl does not know
    assert _marks(entry) == "SAFE_CONTACT MET, RISK_ASSESSMENT unrecognised value 77"


def test_casectl_sla_breaches_options_make_the_filtered_request() -> None:
    """`casectl sla breaches --kind … --area … --from … --to …` (and `--filter filter.service=…`):
    the filter is nested in the request, which a flat field=value could not reach."""
    fields = breach_request(kind="SAFE_CONTACT", area="Torfaen North", start="2027-03-01",
                            end="2027-04-01T00:00:00+01:00", page_size=50, where=["filter.service=intake"])
    request = json_format.ParseDict(fields, reporting_pb2.ListSlaBreachesRequest())
    assert (request.filter.kind, request.filter.area, request.filter.service) == ("SAFE_CONTACT", "Torfaen North", "intake")
    assert getattr(request.filter, "from").ToJsonString() == "2027-03-01T00:00:00Z"
    assert request.filter.to.ToJsonString() == "2027-03-31T23:00:00Z"  # the offset kept: 23:00 UTC
    assert request.page_size == 50 and not request.page_token
    assert breach_request() == {}
    with pytest.raises(CliError):
        breach_request(where=["kind"])


def test_dead_letter_commands_reach_the_named_service_and_read_places_strictly() -> None:
    from reporting.cli.dead_letters import _Ops, _place

    assert _place("2@17") == (2, 17)
    for bad in ("2:17", "@3", "a@1", "1@"):
        with pytest.raises(CliError, match="PARTITION@OFFSET"):
            _place(bad)
    local = Connection("127.0.0.1:50056", "landlord", "operations", "ops-1")
    assert _Ops(local, "risk", None).target == "127.0.0.1:50052"  # --target's host, risk's own port
    assert _Ops(local, "risk", "127.0.0.1:6000").target == "127.0.0.1:6000"
    with pytest.raises(CliError, match="--service must be one of"):
        _Ops(local, "billing", None)
    remote = Connection("reporting.casework.svc:50056", "landlord", "operations", "ops-1")
    with pytest.raises(CliError, match="refusing to send a token"):
        _Ops(remote, "referral", None)  # in clear, off this machine: only with --tls-ca


def test_casectl_shows_who_replayed_a_dead_letter_and_when() -> None:
    from reporting.cli.dead_letters import _replayed

    replayed = ops_pb2.DeadLetter(state=ops_pb2.DEAD_LETTER_STATE_REPLAYED,
                                  replayed_by=envelope_pb2.Actor(agency="landlord", role="operations", user="ops-1"))
    replayed.replayed_at.FromJsonString("2026-11-30T19:05:03Z")
    assert _replayed(replayed) == "2026-11-30 19:05:03 by landlord/operations/ops-1"
    # Pending, or replayed before replays were recorded: nothing to show, not an empty name.
    assert _replayed(ops_pb2.DeadLetter(state=ops_pb2.DEAD_LETTER_STATE_REPLAYED)) == "-"


def test_casectl_call_finds_each_rpc_and_the_service_that_offers_it() -> None:
    from reporting.cli.call import default_target, find_method, request_for, services

    local = Connection("127.0.0.1:50056", "landlord", "CHO", "cho-1")
    submit = find_method("intake.v1.IntakeService/SubmitDisclosure")
    assert find_method("intake.v1.IntakeService.SubmitDisclosure") is submit  # either spelling
    assert default_target(submit, local, None) == "127.0.0.1:50051"
    assert default_target(find_method("police.v1.DaccFeed/" + _first_rpc("police.v1.DaccFeed")), local, None) \
        == "127.0.0.1:50051"  # the DACC feed is served by intake's process
    stats = find_method("common.v1.OpsService/GetStoreStats")
    assert default_target(stats, local, "referral") == "127.0.0.1:50053"
    with pytest.raises(CliError, match="offered by every service"):
        default_target(stats, local, None)
    baseline = json.loads((Path(__file__).resolve().parents[3] / "proto" / "compatibility-baseline.json").read_text())
    assert {f"{s.full_name}/{m.name}" for s in services() for m in s.methods} == set(baseline["methods"])  # every RPC
    assert request_for(submit, '{"idempotency_key": "k-1", "children": [{"age": 4}]}').children[0].age == 4
    with pytest.raises(CliError, match="not a valid intake.v1.SubmitDisclosureRequest"):
        request_for(submit, '{"idempotency_key": 7.5}')
    with pytest.raises(CliError, match="no service 'risk.v1.Nope'"):
        find_method("risk.v1.Nope/Get")


def _first_rpc(service: str) -> str:
    from reporting.cli.call import services

    return next(s for s in services() if s.full_name == service).methods[0].name
