"""Kafka transport security from configuration: TLS and SASL reach every client, and case events
are never sent in clear to a broker beyond this machine."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from caseplatform.kafka.security import KafkaSecurity
from caseplatform.tls import PlaintextRefused


def security(**env: str) -> KafkaSecurity:
    return KafkaSecurity(**env)  # type: ignore[arg-type]


def test_the_default_is_plaintext_and_only_on_loopback() -> None:
    plain = security()
    assert plain.client_options() == {}
    plain.check_transport("127.0.0.1:9092,localhost:9093,[::1]:9092", allow_plaintext=False)
    with pytest.raises(PlaintextRefused, match="kafka-0.example:9092"):
        plain.check_transport("127.0.0.1:9092,kafka-0.example:9092", allow_plaintext=False)
    plain.check_transport("kafka-0.example:9092", allow_plaintext=True)  # a mesh encrypts it


def test_sasl_without_tls_is_still_plaintext_to_a_remote_broker() -> None:
    sasl = security(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                    sasl_username="intake", sasl_password="synthetic-secret")
    with pytest.raises(PlaintextRefused):
        sasl.check_transport("kafka.example:9092", allow_plaintext=False)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("kafka-tls")
    ca, key = folder / "ca.crt", folder / "ca.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                    "-keyout", str(key), "-out", str(ca)], check=True, capture_output=True)
    return {"ca": ca, "key": key}


def test_tls_with_sasl_scram_gives_every_client_a_verifying_context_and_credentials(certificates: dict[str, Path],
                                                                                   tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("synthetic-secret\n")
    config = security(security_protocol="SASL_SSL", ssl_ca_file=str(certificates["ca"]),
                      sasl_mechanism="SCRAM-SHA-512", sasl_username="reporting", sasl_password_file=str(password))
    options = config.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("reporting", "synthetic-secret")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    config.check_transport("kafka.example:9093", allow_plaintext=False)  # encrypted: anywhere
    assert "synthetic-secret" not in repr(config)  # the password never reaches a log line


def test_mutual_tls_client_certificate(certificates: dict[str, Path]) -> None:
    config = security(security_protocol="SSL", ssl_ca_file=str(certificates["ca"]),
                      ssl_cert_file=str(certificates["ca"]), ssl_key_file=str(certificates["key"]))
    assert config.client_options()["security_protocol"] == "SSL"


@pytest.mark.parametrize(("env", "reason"), [
    ({"security_protocol": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "KAFKA_SASL_PASSWORD"),
    ({"sasl_mechanism": "PLAIN"}, "does not use SASL"),
    ({"ssl_ca_file": "/etc/ca.crt"}, "does not use TLS"),
    ({"security_protocol": "SSL", "ssl_cert_file": "/etc/c.crt"}, "go together"),
    ({"security_protocol": "TLS"}, "security_protocol"),
])
def test_inconsistent_settings_are_refused_at_start_with_the_setting_named(env: dict[str, str], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        security(**env)


def test_a_service_refuses_to_start_on_plaintext_to_a_remote_broker() -> None:
    from caseplatform.kafka import security as module
    from caseplatform.runner import wire_broker
    from caseplatform.settings import PlatformSettings

    module.kafka_security.cache_clear()
    try:
        with pytest.raises(PlaintextRefused, match="KAFKA_SECURITY_PROTOCOL"):
            wire_broker("risk", PlatformSettings(kafka_bootstrap_servers="kafka.example:9092"), None)
    finally:
        module.kafka_security.cache_clear()
