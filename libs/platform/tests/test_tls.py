"""Mutual TLS at the gRPC edge: a peer without a certificate from the trusted CA cannot even
connect; plaintext is refused off loopback unless a mesh is declared to provide mTLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.devstack.ports import free_ports
from caseplatform.grpc_server import build_server
from caseplatform.testing import TestIdentities
from caseplatform.tls import PlaintextRefused, TlsConfig


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(cn: str, issuer_key, issuer_name, *, ca: bool = False, san: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name or _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _pem(key, cert) -> tuple[bytes, bytes]:
    return (
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        cert.public_bytes(serialization.Encoding.PEM),
    )


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, bytes]:
    ca_key, ca_cert = _issue("casework-test-ca", None, None, ca=True)
    server_key, server_cert = _issue("intake", ca_key, ca_cert.subject, san=True)
    client_key, client_cert = _issue("police-system", ca_key, ca_cert.subject)
    rogue_ca_key, rogue_ca = _issue("rogue-ca", None, None, ca=True)
    rogue_key, rogue_cert = _issue("rogue", rogue_ca_key, rogue_ca.subject)
    files = {}
    for name, (key, cert) in {"server": (server_key, server_cert)}.items():
        k, c = _pem(key, cert)
        (tmp_path / f"{name}.key").write_bytes(k)
        (tmp_path / f"{name}.crt").write_bytes(c)
    (tmp_path / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files["ca"] = ca_cert.public_bytes(serialization.Encoding.PEM)
    files["client_key"], files["client_cert"] = _pem(client_key, client_cert)
    files["rogue_key"], files["rogue_cert"] = _pem(rogue_key, rogue_cert)
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
