"""Transport security for the gRPC edge: mutual TLS in production, plaintext only on loopback.

Certificates come from files (Kubernetes secrets mounted read-only, e.g. issued by cert-manager):
`CASEWORK_TLS_CERT`, `CASEWORK_TLS_KEY` and `CASEWORK_TLS_CLIENT_CA` — the CA whose certificates
partner and peer systems must present. Without them a server binds plaintext, and refuses to do so
on anything but a loopback address unless `CASEWORK_ALLOW_PLAINTEXT=true` says that a service mesh
terminates mTLS in front of it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import grpc


class PlaintextRefused(RuntimeError):
    pass


@dataclass(frozen=True)
class TlsConfig:
    cert: Path
    key: Path
    client_ca: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TlsConfig | None:
        env = os.environ if env is None else env
        names = ("CASEWORK_TLS_CERT", "CASEWORK_TLS_KEY", "CASEWORK_TLS_CLIENT_CA")
        given = [n for n in names if env.get(n)]
        if not given:
            return None
        if len(given) != len(names):
            missing = ", ".join(n for n in names if n not in given)
            raise ValueError(f"mutual TLS needs all of {', '.join(names)}; missing {missing}")
        return cls(*(Path(env[n]) for n in names))

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.client_ca.read_bytes(),
            require_client_auth=True,
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(server: grpc.aio.Server, host: str, port: int, tls: TlsConfig | None, allow_plaintext: bool) -> int:
    """Bind the server's port: mTLS when configured, else plaintext where that is acceptable."""
    address = f"{host}:{port}"
    if tls is not None:
        return server.add_secure_port(address, tls.server_credentials())
    if not (is_loopback(host) or allow_plaintext):
        raise PlaintextRefused(
            f"refusing plaintext gRPC on {host}: configure CASEWORK_TLS_CERT/KEY/CLIENT_CA for mutual TLS, "
            "or set CASEWORK_ALLOW_PLAINTEXT=true only where a service mesh provides mTLS"
        )
    return server.add_insecure_port(address)


def allow_plaintext_from_env(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("CASEWORK_ALLOW_PLAINTEXT", "").lower() in {"1", "true", "yes"}
