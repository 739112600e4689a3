"""Prometheus metrics every service exports. Labels name services, methods and event types —
never a person or a case."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GRPC_REQUESTS = Counter(
    "casework_grpc_requests", "gRPC requests handled", ["service", "method", "code"]
)
GRPC_LATENCY = Histogram(
    "casework_grpc_request_seconds",
    "gRPC request latency",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter(
    "casework_events_published", "Domain events the relay published to Kafka", ["service", "event_type"]
)
RELAY_LAG = Gauge(
    "casework_relay_lag_events", "Stored notifications not yet published to Kafka", ["service"]
)
RELAY_LEASE_HELD = Gauge(
    "casework_relay_lease_held",
    "1 while this process holds its service's relay lease and publishes, 0 while it stands by: "
    "summed over a service's replicas, exactly 1",
    ["service"],
)
RELAY_REPUBLISHES = Counter(
    "casework_relay_republishes",
    "Times the relay found the broker had lost what it published and replayed from the store",
    ["service"],
)
EVENTS_CONSUMED = Counter(
    "casework_events_consumed",
    "Messages the inbox handled, by outcome (processed, duplicate, gap, dead_lettered, held: ADR 0038, "
    "replayed: a dead letter applied by ReplayDeadLetter, ADR 0039)",
    ["service", "source_service", "outcome"],
)
DEAD_LETTERS_PENDING = Gauge(
    "casework_dead_letters_pending",
    "Events this service stepped over (dead-lettered) and has not replayed yet (ADR 0039), counted "
    "in its store once a minute and after each replay",
    ["service"],
)
BACKGROUND_FAILURES = Counter(
    "casework_background_task_failures",
    "Times one of the service's long-running loops (relay, consumer lag, dead-letter count, "
    "reporting's SLA watch) failed or ended and was started again; its log has the error",
    ["service", "task"],
)
CONSUMER_LAG = Gauge(
    "casework_consumer_lag_messages",
    "Messages on a source partition not yet handled by this service (measured as batches are "
    "applied and every 10 s, so a consumer that cannot apply still shows its backlog)",
    ["service", "source_service", "partition"],
)
AUTH_FAILURES = Counter(
    "casework_auth_failures", "gRPC calls refused as UNAUTHENTICATED (no, bad, expired or foreign token)", ["service"]
)
ACCESS_DENIALS = Counter(
    "casework_access_denials",
    "gRPC calls refused as PERMISSION_DENIED by the need-to-know rules (ADR 0021)",
    ["service", "rpc", "role"],
)
CASE_ARRIVAL_WAITS = Histogram(
    "casework_case_arrival_wait_seconds",
    "Calls held at the edge until the case they name reached this service (ADR 0026), by outcome"
    " (arrived, or not_found once the wait was over)",
    ["service", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
