"""Prometheus metrics of the SLA engine (ADR 0016). Labels: SLA kind, the service whose event
started the clock, and the case's area — never a person or a case."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LABELS = ["kind", "service", "area"]
HOUR = 3600.0

OPEN_CLOCKS = Gauge(
    "casework_sla_open_clocks",
    "SLA clocks not yet met or withdrawn, by state: on_track, due_soon (due within the hour), overdue",
    [*LABELS, "state"],
)
BREACHES = Counter("casework_sla_breaches", "SLA clocks breached (each clock at most once)", LABELS)
MET = Counter("casework_sla_met", "SLA clocks met, by outcome (on_time, late)", [*LABELS, "outcome"])
TIME_TO_MEET = Histogram(
    "casework_sla_time_to_meet_seconds",
    "From the event that started an SLA clock to the event that met it",
    LABELS,
    buckets=tuple(h * HOUR for h in (0.25, 1, 4, 8, 24, 48, 72, 120, 168, 336, 672)),
)
STATES = ("on_track", "due_soon", "overdue")
DUE_SOON_S = HOUR


def area_label(area: str) -> str:
    return area or "unknown"
