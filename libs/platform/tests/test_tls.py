"""Mutual TLS at the gRPC edge: a peer without a certificate from the trusted CA cannot even
connect; plaintext is refused off loopback unless a mesh is declared to provide mTLS."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.devstack.ports import free_ports
from caseplatform.grpc_server import build_server
from caseplatform.testing import TestIdentities, issue_certificate, pem
from caseplatform.tls import PlaintextRefused, TlsConfig


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, bytes]:
    ca_key, ca_cert = issue_certificate("casework-test-ca", None, None, ca=True)
    server_key, server_cert = issue_certificate("intake", ca_key, ca_cert.subject, san=True)
    client_key, client_cert = issue_certificate("police-system", ca_key, ca_cert.subject)
    rogue_ca_key, rogue_ca = issue_certificate("rogue-ca", None, None, ca=True)
    rogue_key, rogue_cert = issue_certificate("rogue", rogue_ca_key, rogue_ca.subject)
    files = {}
    for name, (key, cert) in {"server": (server_key, server_cert)}.items():
        k, c = pem(key, cert)
        (tmp_path / f"{name}.key").write_bytes(k)
        (tmp_path / f"{name}.crt").write_bytes(c)
    (tmp_path / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files["ca"] = ca_cert.public_bytes(serialization.Encoding.PEM)
    files["client_key"], files["client_cert"] = pem(client_key, client_cert)
    files["rogue_key"], files["rogue_cert"] = pem(rogue_key, rogue_cert)
    files["dir"] = str(tmp_path).encode()
    return files


async def _health(address: str, credentials: grpc.ChannelCredentials) -> str:
    async with grpc.aio.secure_channel(address, credentials) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        except grpc.aio.AioRpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def test_only_peers_with_a_certificate_from_the_trusted_ca_connect(pki: dict[str, bytes], tmp_path: Path) -> None:
    d = Path(pki["dir"].decode())
    tls = TlsConfig(cert=d / "server.crt", key=d / "server.key", client_ca=d / "ca.crt")
    identities = TestIdentities(tmp_path / "issuer")
    (port,) = free_ports(1)
    server, health = build_server("intake", [], [], port, identities.verifier, host="127.0.0.1", tls=tls)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    address = f"localhost:{port}"
    try:
        trusted = grpc.ssl_channel_credentials(pki["ca"], pki["client_key"], pki["client_cert"])
        assert await _health(address, trusted) == "SERVING"
        no_client_cert = grpc.ssl_channel_credentials(pki["ca"])
        assert await _health(address, no_client_cert) == "UNAVAILABLE"
        rogue = grpc.ssl_channel_credentials(pki["ca"], pki["rogue_key"], pki["rogue_cert"])
        assert await _health(address, rogue) == "UNAVAILABLE"
    finally:
        await server.stop(grace=None)


async def test_plaintext_is_refused_off_loopback(tmp_path: Path) -> None:
    identities = TestIdentities(tmp_path / "issuer")
    (port,) = free_ports(1)
    with pytest.raises(PlaintextRefused, match="CASEWORK_TLS_CERT"):
        build_server("intake", [], [], port, identities.verifier, host="0.0.0.0")


def test_partial_tls_configuration_is_an_error() -> None:
    with pytest.raises(ValueError, match="CASEWORK_TLS_CLIENT_CA"):
        TlsConfig.from_env({"CASEWORK_TLS_CERT": "a.crt", "CASEWORK_TLS_KEY": "a.key"})
