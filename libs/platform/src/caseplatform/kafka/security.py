"""How the services reach Kafka: TLS and SASL from configuration, plaintext only on loopback.

The embedded broker of `make run` listens on 127.0.0.1 without TLS. A production cluster (Strimzi's
TLS listener, a managed Kafka) needs encryption in transit and an identity per service:

  KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
  KAFKA_SSL_CA_FILE         the CA that signed the brokers' certificates (e.g. Strimzi's cluster CA)
  KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE   a client certificate for mutual TLS (both or neither)
  KAFKA_SASL_MECHANISM      PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE (a mounted Secret)

As for gRPC (caseplatform.tls), a plaintext connection to a broker that is not on loopback is refused
unless `CASEWORK_ALLOW_PLAINTEXT=true` says a service mesh encrypts the traffic. Every Kafka client
in the kernel (FastStream broker, relay producer, admin) takes its options from here, so no client
can be left on plaintext by accident.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from caseplatform.tls import PlaintextRefused, allow_plaintext_from_env, is_loopback

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


class KafkaSecurity(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Path | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    sasl_password_file: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        if self.sasl_password_file is not None:
            self.sasl_password = SecretStr(self.sasl_password_file.read_text().strip())
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (a client certificate and its key)")
        if self.uses_sasl:
            if self.sasl_mechanism is None:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM")
            if not self.sasl_username or not self.sasl_password.get_secret_value():
                raise ValueError("SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)")
        elif self.sasl_mechanism is not None:
            raise ValueError(f"KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL={self.security_protocol} does not use SASL")
        if not self.uses_tls and (self.ssl_ca_file or self.ssl_cert_file):
            raise ValueError(f"TLS files are set but KAFKA_SECURITY_PROTOCOL={self.security_protocol} does not use TLS")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = create_ssl_context(
            cafile=str(self.ssl_ca_file) if self.ssl_ca_file else None,  # None: the system's CAs
            certfile=str(self.ssl_cert_file) if self.ssl_cert_file else None,
            keyfile=str(self.ssl_key_file) if self.ssl_key_file else None,
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def faststream(self) -> BaseSecurity | None:
        """The FastStream form, for `KafkaBroker(security=...)`."""
        context = self.ssl_context()
        if self.uses_sasl:
            assert self.sasl_mechanism is not None
            return _SASL[self.sasl_mechanism](
                self.sasl_username, self.sasl_password.get_secret_value(), ssl_context=context, use_ssl=self.uses_tls
            )
        if self.uses_tls:
            return BaseSecurity(ssl_context=context, use_ssl=True)
        return None

    def client_options(self) -> dict[str, Any]:
        """The same, as keyword arguments for aiokafka's producer, consumer and admin clients."""
        return parse_security(self.faststream())

    def check_transport(self, bootstrap_servers: str, allow_plaintext: bool) -> None:
        """Refuse to send case events in clear to a broker beyond this machine."""
        if self.uses_tls or allow_plaintext:
            return
        remote = [s for s in bootstrap_servers.split(",") if s.strip() and not is_loopback(_host(s.strip()))]
        if remote:
            raise PlaintextRefused(
                f"refusing plaintext Kafka to {', '.join(remote)}: set KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL "
                "(with KAFKA_SSL_CA_FILE), or CASEWORK_ALLOW_PLAINTEXT=true only where a service mesh encrypts it"
            )


def _host(server: str) -> str:
    if server.startswith("["):  # [::1]:9092
        return server[1 : server.index("]")]
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server


@lru_cache(maxsize=1)
def kafka_security() -> KafkaSecurity:
    """This process's Kafka security settings (read once from the environment)."""
    return KafkaSecurity()


def kafka_client_options(bootstrap_servers: str) -> dict[str, Any]:
    """Options every raw aiokafka client of this process is built with, after the transport check."""
    security = kafka_security()
    security.check_transport(bootstrap_servers, allow_plaintext_from_env())
    return security.client_options()
