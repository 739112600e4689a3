"""Configuration comes only from the environment, read into typed settings objects."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from caseplatform.topology import DEFAULTS


class PlatformSettings(BaseSettings):
    """Settings shared by every service (unprefixed, one value for the whole stack)."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(default=3, ge=1)
    casework_data_dir: Path = Path("var")
    # Loopback by default (plaintext is only acceptable there); 0.0.0.0 in a container.
    casework_bind_host: str = "127.0.0.1"
    # A plaintext, health-only gRPC port for probes when the API port speaks mutual TLS (0: none).
    casework_health_port: int = Field(default=0, ge=0)
    # "sqlite" (embedded default) or "postgres"; the eventsourcing persistence module follows.
    casework_persistence: str = "sqlite"
    casework_postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/casework"
    # Or the DSN read from a file (a mounted Secret: credentials stay out of the environment).
    casework_postgres_dsn_file: Path | None = None
    # The library's connection pool, per service process (eventsourcing.postgres): connections
    # kept open, extra ones allowed under load, how long a caller may wait for one, and how many
    # callers may wait. Size replicas x (pool + overflow) + 1 (the relay's lease) per service
    # against the server's max_connections.
    casework_postgres_pool_size: int = Field(default=5, ge=1)
    casework_postgres_max_overflow: int = Field(default=10, ge=0)
    casework_postgres_connect_timeout_s: int = Field(default=10, ge=1)
    casework_postgres_max_waiting: int = Field(default=0, ge=0)  # 0: unlimited
    casework_postgres_conn_max_age_s: float = Field(default=3600.0, gt=0)  # then reconnect
    casework_postgres_pre_ping: bool = False
    # Give up on a lock (table lock for ordered inserts) rather than wait for ever; 0: no limit.
    casework_postgres_lock_timeout_s: int = Field(default=0, ge=0)
    # Give up on a connection whose peer stopped answering (a network cut, a server gone) after
    # about this long, on both ends: the relay lease of a vanished replica is released (0: never;
    # see caseplatform.postgres_connections).
    casework_postgres_dead_peer_s: int = Field(default=30, ge=0)
    # Where spans go: "none", "console", "file" (JSON lines under <data dir>/<service>/traces.jsonl)
    # or "otlp" (a collector, at OTEL_EXPORTER_OTLP_ENDPOINT).
    casework_traces: Literal["none", "console", "file", "otlp"] = "none"
    # Start the process clock at this instant (then real time passes): for test and training
    # environments only. Unset in production.
    casework_clock_start: datetime | None = None
    # The real instant at which that clock reads CASEWORK_CLOCK_START. Set it (to the same value
    # for every service) so that all processes share one "now", also after a restart; unset, each
    # process's clock starts at CASEWORK_CLOCK_START when that process starts.
    casework_clock_anchor: datetime | None = None
    # On SIGTERM, report NOT_SERVING and keep serving this long before letting callers go: the
    # proxies in front of the replicas stop sending it new connections meanwhile (Kubernetes takes
    # a stopping pod out of a Service as it signals it, and each node hears of that a moment
    # later). 0: stop at once, as the dev stack does (ADR 0040).
    casework_shutdown_delay_s: float = Field(default=0.0, ge=0, le=120)
    # A caller's connection older than this is moved to a new one (GOAWAY; its calls finish), so
    # replicas added by the autoscaler or a rolling update get their share of partners already
    # connected (ADR 0041). 0: never.
    casework_grpc_max_connection_age_s: float = Field(default=300.0, ge=0)
    # The relay reads the notification log again at once while there is work, and is woken at
    # once when this process commits events. Otherwise, idle, it re-reads after a pause that
    # doubles from RELAY_POLL_INTERVAL_S to RELAY_IDLE_POLL_MAX_S (the latency for events
    # another process recorded: replicas sharing a PostgreSQL store).
    relay_poll_interval_s: float = Field(default=0.005, gt=0)
    relay_idle_poll_max_s: float = Field(default=0.25, gt=0)
    relay_section_size: int = Field(default=1000, ge=1)
    # The service's consumer waits before its next batch while its own relay has more than this
    # many committed events still to publish (for at most the second figure): decisions already
    # taken reach the broker before more work is taken in (ADR 0016, a midnight of breaches).
    relay_backlog_pause: int = Field(default=1000, ge=1)
    relay_backlog_pause_max_s: float = Field(default=5.0, ge=0)
    # The consumer's long poll: the broker holds an empty fetch this long (new messages end it
    # early), and a batch is waited for this long before the subscriber loop goes round again.
    consumer_fetch_wait_ms: int = Field(default=100, ge=0)
    consumer_batch_wait_ms: int = Field(default=50, ge=1)
    # A small batch (under 50 records) waits this long for what else is on its way before it is
    # applied: one transaction for several events instead of one each (ADR 0030). 0: never.
    consumer_linger_ms: int = Field(default=5, ge=0, le=1000)
    # A call naming a case this service has not heard of yet is held this long (at most the
    # caller's own deadline) for intake's disclosure to arrive, then run; NOT_FOUND after (ADR 0026).
    casework_case_arrival_wait_s: float = Field(default=2.0, ge=0)
    # The agency whose staff roles (CHO, CSO, ...) count as landlord staff (ADR 0021).
    casework_landlord_agency: str = "landlord"

    @model_validator(mode="after")
    def _dsn_from_file(self) -> PlatformSettings:
        if self.casework_postgres_dsn_file is not None:
            self.casework_postgres_dsn = self.casework_postgres_dsn_file.read_text().strip()
        return self


def service_settings(service: str) -> tuple[PlatformSettings, int, int]:
    """Platform settings plus this service's gRPC and metrics ports (`<SERVICE>_GRPC_PORT`...)."""

    defaults = DEFAULTS[service]

    class Ports(BaseSettings):
        model_config = SettingsConfigDict(env_prefix=f"{service.upper()}_", extra="ignore")
        grpc_port: int = defaults.grpc_port
        metrics_port: int = defaults.metrics_port

    ports = Ports()
    return PlatformSettings(), ports.grpc_port, ports.metrics_port
