"""A minimal OpenTelemetry trace collector (OTLP over gRPC) for local runs and tests.

Services started with `CASEWORK_TRACES=otlp` and `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port>`
send it their spans; it keeps them in memory, flattened to what a test or a developer asks:
which service, which trace, which span, under which parent. In production the Helm chart points
the services at a real collector instead (`tracing.otlpEndpoint`).
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Self

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    trace_id: str  # 32 hex digits, as in a `traceparent`
    span_id: str
    parent_span_id: str  # "" for a root span
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: TraceCollector) -> None:
        self._sink = sink

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext) -> Any:
        spans = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(CollectedSpan(
                        service=str(resource.get("service.name", "")),
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    ))
        self._sink.add(spans)
        return trace_service_pb2.ExportTraceServiceResponse()


class TraceCollector:
    """An OTLP/gRPC trace endpoint on 127.0.0.1 (a free port unless given). Use as a context manager."""

    def __init__(self, port: int = 0) -> None:
        self._spans: list[CollectedSpan] = []
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self._server)
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")

    @property
    def endpoint(self) -> str:
        """For OTEL_EXPORTER_OTLP_ENDPOINT (http: plaintext, on loopback only)."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, spans: list[CollectedSpan]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def spans(self) -> list[CollectedSpan]:
        with self._lock:
            return list(self._spans)

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=1).wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
