"""OpenTelemetry tracing: one trace follows a request from gRPC, through the store (the trace
context is saved in each event's metadata), across Kafka headers, into every consumer."""

from __future__ import annotations

import json
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
    SpanExporter,
)

from caseplatform.settings import PlatformSettings

TRACER_NAME = "casework"


def _one_line(span: ReadableSpan) -> str:
    return json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n"


def setup_tracing(service: str, settings: PlatformSettings) -> TracerProvider:
    """Install this process's tracer provider; spans go where CASEWORK_TRACES says."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter: SpanExporter | None = None
    if settings.casework_traces == "console":
        exporter = ConsoleSpanExporter(service_name=service, formatter=_one_line)
    elif settings.casework_traces == "file":
        path = Path(settings.casework_data_dir) / service / "traces.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        stream: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        exporter = ConsoleSpanExporter(service_name=service, out=stream, formatter=_one_line)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        exporter = None
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


@cache
def tracer() -> trace.Tracer:
    """The process's tracer, made once (making one per span cost more than the span). Before
    `setup_tracing` this is OpenTelemetry's proxy, which follows the provider installed later."""
    return trace.get_tracer(TRACER_NAME)


def context_from(carrier: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(carrier or {}))


def current_carrier() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
