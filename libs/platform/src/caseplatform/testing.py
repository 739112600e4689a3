"""Helpers for tests of services built on the kernel (imported by tests only)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from caseplatform.auth import AuthConfig, DevIssuer, TokenVerifier, aio_identity_interceptors
from caseplatform.clock import ControlledClock, set_process_clock


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """field -> reason of an INVALID_ARGUMENT's `google.rpc.BadRequest` detail."""
    from google.rpc import error_details_pb2, status_pb2

    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]  # type: ignore[attr-defined]
    bad = error_details_pb2.BadRequest()
    status_pb2.Status.FromString(raw).details[0].Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


async def refused_as_invalid(call: Callable[..., Awaitable[Any]], request: Any, **kwargs: Any) -> dict[str, str]:
    """field -> reason with which an RPC refused `request`, having checked it was INVALID_ARGUMENT."""
    try:
        await call(request, **kwargs)
    except grpc.aio.AioRpcError as refused:
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT, refused
        return field_violations(refused)
    raise AssertionError(f"{request!r} was accepted")


@contextmanager
def controlled_clock(start: datetime) -> Iterator[ControlledClock]:
    """Run with the process clock stopped at `start` (move it with `.advance()`/`.set()`)."""
    clock = ControlledClock(start)
    previous = set_process_clock(clock)
    try:
        yield clock
    finally:
        set_process_clock(previous)


class TestIdentities:
    """A throwaway dev issuer for a test's own gRPC server and clients: tokens are real JWTs,
    verified by the same edge as in production."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.issuer = DevIssuer(directory)
        self.verifier = TokenVerifier(
            AuthConfig(issuer=self.issuer.issuer, audience=self.issuer.audience, keys_source=self.issuer.public_keys)
        )

    def aio_channel(self, address: str) -> grpc.aio.Channel:
        """An asyncio channel on which x-agency/x-role/x-user metadata becomes a signed token."""
        return grpc.aio.insecure_channel(address, interceptors=aio_identity_interceptors(self.issuer))


# ----- a throwaway PKI for tests of mutual TLS ---------------------------------------------

def _cert_name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue_certificate(cn: str, issuer_key: Any, issuer_name: Any, *, ca: bool = False, san: bool = False) -> tuple[Any, Any]:
    """An EC key and certificate for `cn`, signed by `issuer_key` (self-signed without one);
    `san`: valid for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_cert_name(cn))
        .issuer_name(issuer_name or _cert_name(cn))
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


def pem(key: Any, cert: Any) -> tuple[bytes, bytes]:
    """(private key, certificate) as PEM."""
    return (
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        cert.public_bytes(serialization.Encoding.PEM),
    )


def skip_unless_required(reason: str, required: bool) -> None:
    """A test that cannot run here: skipped, saying why, or failed where it must run (CI)."""
    import pytest

    if required:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def in_ci() -> bool:
    """CI (CI=true) must run every test: what would be skipped elsewhere fails there."""
    import os

    return os.environ.get("CI", "").lower() == "true"


def needs(present: object, reason: str) -> None:
    """A test that needs a tool (Chromium, pdftotext, the deployment tools): without it the test
    is skipped and says why, or fails in CI."""
    if not present:
        skip_unless_required(reason, in_ci())


def postgres_or_skip() -> Any:
    """The PostgreSQL server the test run uses; without one the test is skipped and says why,
    or fails if PostgreSQL is required (CI=true or CASEWORK_REQUIRE_POSTGRES=1)."""
    from caseplatform.devstack import postgres

    try:
        return postgres.shared_server()
    except postgres.PostgresUnavailable as exc:
        skip_unless_required(f"PostgreSQL pass did not run: {exc}", postgres.required())


def root_or_skip(what: str, command: str | None = None) -> None:
    """Fault tests that change the machine (cut a connection, mount a small disk) need root and
    sometimes a command: without them the test is skipped and says why, or fails in CI (CI=true),
    which must run every test."""
    import os
    import shutil

    reason = ""
    if command is not None and shutil.which(command) is None:
        reason = f"{what} needs {command} (make system-deps)"
    elif os.geteuid() != 0:
        reason = f"{what} needs root"
    if reason:
        skip_unless_required(reason, in_ci())


@contextmanager
def running_broker(folder: Path) -> Iterator[Any]:
    """A real Tansu broker on a free port for one test, its log in `folder`."""
    from caseplatform.devstack.broker import TansuBroker
    from caseplatform.devstack.ports import free_port

    tansu = TansuBroker(free_port(), folder / "broker.log")
    tansu.start()
    try:
        tansu.wait_ready()
        yield tansu
    finally:
        tansu.stop()


@contextmanager
def launched_devstack(env: dict[str, str], cwd: Path, output: Path, *, nohup: bool = False) -> Iterator[Any]:
    """`python -m caseplatform.devstack` (what `make run` starts) with its output in `output`,
    stopped at the end if it still runs: SIGINT (Ctrl-C) first, killed after 30 s. `nohup`:
    started as `nohup` starts it, SIGHUP ignored."""
    import signal
    import subprocess
    import sys

    with open(output, "wb") as out:
        proc = subprocess.Popen([*(["nohup"] if nohup else []), sys.executable, "-m", "caseplatform.devstack"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
