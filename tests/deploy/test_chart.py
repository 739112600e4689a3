"""The Helm chart: lints strictly, renders in every supported shape, every manifest is valid for
Kubernetes, and it deploys the services the way the architecture asks (gRPC probes, hardened
non-root pods, topics from the topology, network isolation, monitoring)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from caseplatform import topology

from .conftest import CHART, Render, of_kind, run_tool

EXTERNAL = {
    "kafka": {"strimzi": {"enabled": False}, "bootstrapServers": "kafka-0.example.internal:9093",
              "brokerCIDRs": ["10.20.0.0/24"]},
    "postgresql": {"cnpg": {"enabled": False},
                   "external": {"existingSecret": "casework-db", "cidrs": ["10.30.0.5/32"]}},
}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "existing-kafka-and-postgres": EXTERNAL,
    "fixed-replicas-no-extras": {
        "autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "monitoring": {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False},
                       "grafanaDashboard": {"enabled": False}},
    },
    "pinned-digests": {"image": {"digests": {s: "sha256:" + "ab" * 32 for s in topology.SERVICES}}},
    "traces-to-a-collector": {"tracing": {"otlpEndpoint": "https://otel-collector.observability:4317",
                                          "caSecret": "otel-collector-ca"}},
    "kafka-sasl-scram-and-client-cert": {"kafka": {"security": {
        "protocol": "SASL_SSL", "clientCertSecret": "casework-kafka-user",
        "sasl": {"mechanism": "SCRAM-SHA-512", "username": "casework", "passwordSecret": "casework-kafka-user"}}}},
}
CUSTOM_RESOURCES = {"KafkaTopic", "Cluster", "ServiceMonitor", "PrometheusRule", "Certificate"}


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_chart_lints_strictly() -> None:
    report = run_tool("lint", str(CHART))
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_manifest_is_valid_for_kubernetes(variant: str, render: Render, tmp_path: Path) -> None:
    docs = [d["doc"] for d in render(VARIANTS[variant])]
    file = tmp_path / "docs.json"
    file.write_text(json.dumps(docs))
    for version in ("1.31.0", "1.34.0"):
        results = run_tool("validate", version, str(file))
        invalid = [r for r in results if r["result"] == "invalid"]
        assert not invalid, invalid
        unchecked = {r["kind"] for r in results if r["result"] == "no-schema"}
        assert unchecked <= CUSTOM_RESOURCES, f"no schema for {unchecked - CUSTOM_RESOURCES}"
    for doc in docs:
        if doc["kind"] in CUSTOM_RESOURCES:  # their operators validate them; check the basics here
            assert doc["apiVersion"].count("/") == 1 and doc["metadata"]["name"] and doc["spec"] is not None


def test_each_service_is_deployed_hardened_with_grpc_probes(render: Render) -> None:
    docs = render()
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/name"]: d for d in of_kind(docs, "Deployment")}
    assert set(deployments) == set(topology.SERVICES)
    accounts = {a["metadata"]["name"]: a for a in of_kind(docs, "ServiceAccount")}
    for service, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):  # the plaintext health-only port
            assert container[probe]["grpc"]["port"] == 50061, (service, probe)
        assert container["resources"]["requests"] and container["resources"]["limits"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
        assert not security["allowPrivilegeEscalation"] and security["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        assert accounts[pod["serviceAccountName"]]["automountServiceAccountToken"] is False
        env = env_of(deployment)
        assert env["CASEWORK_PERSISTENCE"] == "postgres" and env["CASEWORK_BIND_HOST"] == "0.0.0.0"
        assert "CASEWORK_POSTGRES_DSN" not in env, "credentials come from a mounted Secret file"
        # tokens verified with the identity provider's keys; the store key is required; mTLS on the API
        assert env["CASEWORK_JWT_PUBLIC_KEYS"] == "/etc/casework/keys/jwt-public-keys"
        assert env["CASEWORK_REQUIRE_CIPHER_KEY"] == "true"
        assert env["CASEWORK_TLS_CLIENT_CA"] and "CASEWORK_ALLOW_PLAINTEXT" not in env
        # a rolling update: NOT_SERVING and still answering while the proxies catch up, then the
        # calls' grace and the orderly stop, all within the pod's grace period (ADR 0040)
        assert env["CASEWORK_SHUTDOWN_DELAY_S"] == "5" and pod["terminationGracePeriodSeconds"] == 30
        # partners' connections age, so pods the autoscaler adds get a share of them (ADR 0041)
        assert env["CASEWORK_GRPC_MAX_CONNECTION_AGE_S"] == "300"
        mounted = {v["name"]: v for v in pod["volumes"]}
        assert mounted["postgres"]["secret"]["secretName"] == "casework-postgres-app"  # CloudNativePG's
        assert mounted["keys"]["secret"]["secretName"] == "casework-keys"


def test_scaling_and_disruption_budgets(render: Render) -> None:
    docs = render()
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in of_kind(docs, "HorizontalPodAutoscaler")}
    assert len(hpas) == len(topology.SERVICES)
    for name, spec in hpas.items():
        assert spec["maxReplicas"] <= 3, f"{name}: more consumers than partitions would sit idle"
    # repairs keeps evidence on a ReadWriteOnce volume: it cannot scale out.
    assert hpas["casework-repairs"]["maxReplicas"] == hpas["casework-repairs"]["minReplicas"] == 1
    pdbs = {p["metadata"]["name"] for p in of_kind(docs, "PodDisruptionBudget")}
    assert pdbs == {f"casework-{s}" for s in topology.SERVICES if s != "repairs"}


def test_secrets_for_database_jwt_and_encryption_keys(render: Render) -> None:
    keys = next(s for s in of_kind(render(), "Secret") if s["metadata"]["name"] == "casework-keys")
    assert set(keys["data"]) == {"jwt-public-keys", "encryption-key"}, "verification keys only: no signing key"
    encryption_key = base64.b64decode(base64.b64decode(keys["data"]["encryption-key"]))
    assert len(encryption_key) == 32, "an AES-256 key is generated on first install"
    own_dsn = {"postgresql": {"cnpg": {"enabled": False},
                              "external": {"dsn": "postgresql://casework:synthetic@db:5432/casework",
                                           "cidrs": ["10.30.0.5/32"]}}}
    names = {s["metadata"]["name"] for s in of_kind(render(own_dsn), "Secret")}
    assert "casework-postgres" in names


def test_topics_come_from_the_topology_with_the_services_partition_count(render: Render) -> None:
    docs = render()
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind(docs, "KafkaTopic")}
    expected = {t for s in topology.SERVICES for t in (topology.topic_for(s), topology.dead_letter_topic_for(s))}
    assert set(topics) == expected
    partitions = {int(env_of(d)["KAFKA_TOPIC_PARTITIONS"]) for d in of_kind(docs, "Deployment")}
    assert {t["partitions"] for t in topics.values()} == partitions == {3}
    for name, spec in topics.items():
        # Compaction would keep only a case's latest event (key = case id): never for these topics.
        assert spec["config"]["cleanup.policy"] == "delete"
        if name.endswith(".events.v1"):
            assert spec["config"]["retention.ms"] == -1, "late subscribers read each chain from its start"


def test_postgres_through_cloudnativepg_or_an_existing_server(render: Render) -> None:
    (cluster,) = of_kind(render(), "Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and cluster["spec"]["instances"] == 3
    # The server admits every process's pool at its ceiling, at the most replicas the HPAs allow.
    docs = render()
    processes = sum(h["spec"]["maxReplicas"] for h in of_kind(docs, "HorizontalPodAutoscaler"))
    pool = env_of(of_kind(docs, "Deployment")[0])
    per_process = int(pool["CASEWORK_POSTGRES_POOL_SIZE"]) + int(pool["CASEWORK_POSTGRES_MAX_OVERFLOW"]) + 2
    assert int(cluster["spec"]["postgresql"]["parameters"]["max_connections"]) >= processes * per_process
    bigger = render({"postgresql": {"pool": {"size": 10, "maxOverflow": 20}}})
    (grown,) = of_kind(bigger, "Cluster")
    assert int(grown["spec"]["postgresql"]["parameters"]["max_connections"]) >= processes * 32
    external = render(EXTERNAL)
    assert not of_kind(external, "Cluster") and not of_kind(external, "KafkaTopic")
    deployment = of_kind(external, "Deployment")[0]
    assert env_of(deployment)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-0.example.internal:9093"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["postgres"]["secret"]["secretName"] == "casework-db"


def test_services_reach_only_dns_the_broker_and_their_database(render: Render) -> None:
    docs = render()
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    deny = policies.pop("casework-default-deny")
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "egress" not in deny and "ingress" not in deny
    for service in topology.SERVICES:
        spec = policies[f"casework-{service}"]
        targets = [peer for rule in spec["egress"] for peer in rule["to"]]
        labels = [peer.get("podSelector", {}).get("matchLabels", {}) for peer in targets]
        assert labels == [
            {"k8s-app": "kube-dns"},
            {"strimzi.io/cluster": "casework", "strimzi.io/kind": "Kafka"},
            {"cnpg.io/cluster": "casework-postgres"},
        ], f"{service} may reach more than it needs"
        assert [rule["ports"][0]["port"] for rule in spec["ingress"]] == [50051, 9100]


def test_traces_go_to_the_collector_when_one_is_given(render: Render) -> None:
    for deployment in of_kind(render(), "Deployment"):
        assert env_of(deployment)["CASEWORK_TRACES"] == "none"
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(deployment)
    endpoint = "https://otel-collector.observability:4317"
    docs = render({"tracing": {"otlpEndpoint": endpoint, "caSecret": "otel-collector-ca"}})
    for deployment in of_kind(docs, "Deployment"):
        env = env_of(deployment)
        assert (env["CASEWORK_TRACES"], env["OTEL_EXPORTER_OTLP_ENDPOINT"]) == ("otlp", endpoint)
        pod = deployment["spec"]["template"]["spec"]
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert env["OTEL_EXPORTER_OTLP_CERTIFICATE"] == mounts["otlp-ca"] + "/ca.crt"
        assert {"name": "otlp-ca", "secret": {"secretName": "otel-collector-ca", "defaultMode": 0o444,
                                              "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in pod["volumes"]
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    for service in topology.SERVICES:
        rules = policies[f"casework-{service}"]["egress"]
        to_collector = [r for r in rules if r["ports"] == [{"port": 4317, "protocol": "TCP"}]]
        assert [r["to"] for r in to_collector] == [
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}]
        ], f"{service} cannot reach the collector, or reaches more"


def test_a_grpc_peer_is_allowed_both_ways(render: Render) -> None:
    docs = render({"services": {"referral": {"peers": ["intake"]}}})
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    referral_out = [p for rule in policies["casework-referral"]["egress"] for p in rule["to"]]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "intake",
                                            "app.kubernetes.io/instance": "casework"}}} in referral_out
    intake_in = policies["casework-intake"]["ingress"][0]["from"]
    assert any(p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "referral"
               for p in intake_in)


def test_prometheus_keeps_the_services_labels_and_names_each_job_after_its_service(render: Render) -> None:
    (monitor,) = of_kind(render(), "ServiceMonitor")
    # The target's own `service` label (the Kubernetes Service) must not rename the metrics'.
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    deployed = {d["metadata"]["labels"][monitor["spec"]["jobLabel"]] for d in of_kind(render(), "Service")}
    assert set(topology.SERVICES) <= deployed  # so `up{job="reporting"}` is reporting's


def test_service_missing_asks_only_after_the_services_deployed(render: Render) -> None:
    def missing_expr(values: dict[str, Any] | None = None) -> str:
        (rules,) = of_kind(render(values), "PrometheusRule")
        return next(r["expr"] for g in rules["spec"]["groups"] for r in g["rules"] if r.get("alert") == "ServiceMissing")

    assert missing_expr() == " or ".join(f'absent(up{{job="{s}"}})' for s in sorted(topology.SERVICES))
    without_repairs = missing_expr({"services": {"repairs": {"enabled": False}}})
    assert 'job="repairs"' not in without_repairs and 'absent(up{job="reporting"})' in without_repairs


def test_monitoring_loads_the_alert_rules_and_dashboard_files(render: Render, tmp_path: Path) -> None:
    empty = render()
    assert of_kind(empty, "ServiceMonitor")[0]["spec"]["endpoints"][0]["port"] == "metrics"
    chart = tmp_path / "casework"
    shutil.copytree(CHART, chart)
    (chart / "files").mkdir(exist_ok=True)
    (chart / "files" / "alerts.yaml").write_text(
        "groups:\n- name: casework-sla\n  rules:\n  - alert: SlaBreached\n"
        "    expr: increase(casework_sla_breaches_total[5m]) > 0\n"
    )
    (chart / "files" / "dashboard.json").write_text('{"title": "casework"}')
    docs = render(chart=chart)
    (rule,) = of_kind(docs, "PrometheusRule")
    assert rule["spec"]["groups"][0]["rules"][0]["alert"] == "SlaBreached"
    dashboard = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == "casework-dashboard")
    assert json.loads(dashboard["data"]["casework.json"]) == {"title": "casework"}
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_kafka_traffic_is_encrypted_by_default_with_the_clusters_ca(render: Render) -> None:
    for deployment in of_kind(render(), "Deployment"):
        env = env_of(deployment)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SSL"
        assert env["KAFKA_BOOTSTRAP_SERVERS"].endswith(":9093"), "Strimzi's TLS listener"
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "casework-cluster-ca-cert"
        assert env["KAFKA_SSL_CA_FILE"] == "/etc/casework/kafka-ca/ca.crt"


def test_kafka_sasl_credentials_come_from_a_mounted_secret(render: Render) -> None:
    docs = render(VARIANTS["kafka-sasl-scram-and-client-cert"])
    for deployment in of_kind(docs, "Deployment"):
        env = env_of(deployment)
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512" and "KAFKA_SASL_PASSWORD" not in env
        assert env["KAFKA_SASL_PASSWORD_FILE"] == "/etc/casework/kafka-sasl/password"
        assert env["KAFKA_SSL_CERT_FILE"] and env["KAFKA_SSL_KEY_FILE"]


def test_inconsistent_kafka_security_values_fail_the_render(render: Render) -> None:
    with pytest.raises(AssertionError, match="sasl.mechanism"):
        render({"kafka": {"security": {"protocol": "SASL_SSL"}}})
