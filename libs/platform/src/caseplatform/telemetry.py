"""OpenTelemetry tracing: one trace follows a request from gRPC, through the store (the trace
context is saved in each event's metadata), across Kafka headers, into every consumer."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import IO

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler

from caseplatform.settings import PlatformSettings

TRACER_NAME = "casework"


def _one_line(span: ReadableSpan) -> str:
    return json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n"


def setup_tracing(service: str, settings: PlatformSettings) -> TracerProvider:
    """Install this process's tracer provider; spans go where CASEWORK_TRACES says. The caller
    shuts it down on exit, which sends what is still batched."""
    provider = tracer_provider(service, settings)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(service: str, settings: PlatformSettings) -> TracerProvider:
    """A tracer provider that records spans only where they go somewhere (ADR 0010).

    With CASEWORK_TRACES=none no span is recorded, yet each still has a trace id that is
    stored with the events and carried in Kafka headers and logs, so traces stay joined up
    across services. A recorded span that nobody exports costs ~30 us more than one that is not
    (46 spans a disclosure, ~2.5 % of the stack's CPU: docs/performance.md). A service
    that writes spans records all of its own, whatever the caller's sampled flag (its callers
    may be services that record nothing). OTEL_TRACES_SAMPLER, when set, decides instead.

    `otlp` sends spans to an OpenTelemetry collector over gRPC, configured the standard way
    (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, https for TLS, with
    OTEL_EXPORTER_OTLP_CERTIFICATE and the client key and certificate for mutual TLS), in
    batches from a background thread: a collector that is away loses spans, never a request."""
    exporting = settings.casework_traces != "none"
    sampler: Sampler | None = None
    if "OTEL_TRACES_SAMPLER" not in os.environ:
        sampler = ALWAYS_ON if exporting else ALWAYS_OFF
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    if settings.casework_traces == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(service_name=service, formatter=_one_line)))
    elif settings.casework_traces == "file":
        path = Path(settings.casework_data_dir) / service / "traces.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        stream: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        exporter = ConsoleSpanExporter(service_name=service, out=stream, formatter=_one_line)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.casework_traces == "otlp":
        # Imported only when used: it loads the OTLP protobufs and a gRPC channel.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@cache
def tracer() -> trace.Tracer:
    """The process's tracer, made once (making one per span cost more than the span). Before
    `setup_tracing` this is OpenTelemetry's proxy, which follows the provider installed later."""
    return trace.get_tracer(TRACER_NAME)


# The one form every carrier this system writes has: W3C `traceparent` version 00, lower-case.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# OpenTelemetry's default propagation (W3C trace context, then baggage) unless configured otherwise.
_DEFAULT_PROPAGATION = os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage").replace(" ", "") == "tracecontext,baggage"


def context_from(carrier: Mapping[str, str] | None) -> Context:
    """The trace context a carrier (Kafka headers, an event's metadata) continues. Every message
    consumed and published extracts one: a plain `traceparent` is read here in ~2 µs instead of
    the propagators' ~25 µs; anything else (trace state, baggage, another propagator, a
    malformed header) takes the propagators' way, which is what this must agree with."""
    if carrier and _DEFAULT_PROPAGATION and "tracestate" not in carrier and "baggage" not in carrier:
        match = _TRACEPARENT.fullmatch(carrier.get("traceparent", ""))
        if match is not None:
            trace_id, span_id = int(match[1], 16), int(match[2], 16)
            if trace_id and span_id:
                remote = trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(int(match[3], 16)))
                return trace.set_span_in_context(trace.NonRecordingSpan(remote))
    return propagate.extract(dict(carrier or {}))


def current_carrier() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
