"""casectl's gRPC connection: reporting's address and the caller's token, from options or the
environment (CASECTL_TARGET, CASECTL_TOKEN). Without a token, against the local stack of `make run`,
a token for CASECTL_AGENCY / CASECTL_ROLE / CASECTL_USER is minted by the stack's dev issuer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from caseplatform.auth import DevIssuer
from caseplatform.tls import allow_plaintext_from_env, is_loopback
from casework.reporting.v1 import reporting_pb2, reporting_pb2_grpc

SERVICE = "reporting.v1.ReportingService"


class CliError(Exception):
    """A failure the user can act on: printed plainly, exit code 1."""


@dataclass
class Connection:
    target: str
    agency: str
    role: str
    user: str
    timeout: float = 120.0
    token: str | None = None
    data_dir: Path = Path("var")
    purpose: str | None = None  # sent as x-purpose: the "why" of the read audit (ADR 0021)
    # Mutual TLS, as the services speak it in production (ADR 0020): the CA that signed the
    # server's certificate, and this client's certificate and key.
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def metadata(self) -> list[tuple[str, str]]:
        metadata = [("authorization", f"Bearer {self.token or self._dev_token()}")]
        if self.purpose:
            metadata.append(("x-purpose", self.purpose))
        return metadata

    def _dev_token(self) -> str:
        issuer_dir = DevIssuer.default_dir(self.data_dir)
        if not (issuer_dir / "private.pem").exists():
            raise CliError(
                "no token: pass --token (or CASECTL_TOKEN) from your identity provider; "
                f"against `make run`, point --data-dir at the stack's data dir (no dev issuer in {issuer_dir})"
            )
        self.token = DevIssuer(issuer_dir).mint(self.agency, self.role, self.user)
        return self.token

    def stub(self) -> reporting_pb2_grpc.ReportingServiceStub:
        return reporting_pb2_grpc.ReportingServiceStub(self.channel())

    def channel(self, target: str | None = None) -> grpc.Channel:
        """To reporting, or to `target` (another service's address: its OpsService)."""
        target = target or self.target
        if self.tls_ca is not None:
            if (self.tls_cert is None) != (self.tls_key is None):
                raise CliError("--tls-cert and --tls-key go together (this client's certificate and its key)")
            credentials = grpc.ssl_channel_credentials(
                root_certificates=self.tls_ca.read_bytes(),
                private_key=self.tls_key.read_bytes() if self.tls_key else None,
                certificate_chain=self.tls_cert.read_bytes() if self.tls_cert else None,
            )
            return grpc.secure_channel(target, credentials)
        host = target.rsplit(":", 1)[0]
        if not (is_loopback(host.strip("[]")) or allow_plaintext_from_env()):
            raise CliError(
                f"refusing to send a token and case data in clear to {target}: pass --tls-ca "
                "(and --tls-cert/--tls-key for mutual TLS), or run against a loopback address"
            )
        return grpc.insecure_channel(target)

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub(), method)(request, metadata=self.metadata, timeout=self.timeout)
        except grpc.RpcError as error:
            raise explain(error, method) from None

    def call_by_name(self, method: str, fields: dict[str, Any]) -> Any:
        """An RPC another part of reporting provides (the SLA engine's), found in the contract by
        name, so casectl works whether or not this build has it — and says so when it has not."""
        service = reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"]
        rpc = service.methods_by_name.get(method)
        if rpc is None:
            raise CliError(f"{SERVICE}/{method} is not in this build's contract: the SLA engine is not installed")
        request_class = _message_class(rpc.input_type.name)
        response_class = _message_class(rpc.output_type.name)
        try:
            request = json_format.ParseDict(fields, request_class())
        except json_format.ParseError as error:
            raise CliError(f"{method}: {error}") from None
        call = self.channel().unary_unary(
            f"/{SERVICE}/{method}", request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        try:
            return call(request, metadata=self.metadata, timeout=self.timeout)
        except grpc.RpcError as error:
            raise explain(error, method) from None


def _message_class(name: str) -> Any:
    return getattr(reporting_pb2, name)


def explain(error: grpc.RpcError, method: str, service: str = "reporting") -> CliError:
    code, details = error.code(), error.details()  # type: ignore[attr-defined]
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return CliError(f"the {service} service at this address does not offer {method} (UNIMPLEMENTED)")
    if code == grpc.StatusCode.UNAVAILABLE:
        return CliError(f"cannot reach the {service} service: {details}")
    return CliError(f"{method} failed: {code.name}: {details}")
