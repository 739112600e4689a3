"""The trace context a message continues: the quick reading of a plain `traceparent` agrees with
OpenTelemetry's propagators on every carrier, and leaves everything else to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from caseplatform.devstack.collector import TraceCollector
from caseplatform.settings import PlatformSettings
from caseplatform.telemetry import context_from, current_carrier, tracer_provider

TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
HEADERS = {"content-type": "application/x-protobuf", "event-type": "intake.v1.DisclosureReceived"}

CARRIERS = {
    "sampled": {"traceparent": f"00-{TRACE}-{SPAN}-01", **HEADERS},
    "not sampled": {"traceparent": f"00-{TRACE}-{SPAN}-00"},
    "other flags": {"traceparent": f"00-{TRACE}-{SPAN}-03"},
    "upper-case hex": {"traceparent": f"00-{TRACE.upper()}-{SPAN}-01"},
    "all-zero trace id": {"traceparent": f"00-{'0' * 32}-{SPAN}-01"},
    "all-zero span id": {"traceparent": f"00-{TRACE}-{'0' * 16}-01"},
    "version ff": {"traceparent": f"ff-{TRACE}-{SPAN}-01"},
    "a later version with more": {"traceparent": f"01-{TRACE}-{SPAN}-01-extra"},
    "version 00 with more": {"traceparent": f"00-{TRACE}-{SPAN}-01-extra"},
    "too short": {"traceparent": f"00-{TRACE[:-1]}-{SPAN}-01"},
    "garbage": {"traceparent": "not a traceparent"},
    "with trace state": {"traceparent": f"00-{TRACE}-{SPAN}-01", "tracestate": "vendor=opaque"},
    "with baggage": {"traceparent": f"00-{TRACE}-{SPAN}-01", "baggage": "team=casework"},
    "no traceparent": dict(HEADERS),
    "empty": {},
}


def seen(context: object) -> tuple[object, ...]:
    span = trace.get_current_span(context).get_span_context()  # type: ignore[arg-type]
    return (span.trace_id, span.span_id, span.is_remote, span.trace_flags, span.trace_state.to_header(),
            dict(baggage.get_all(context)))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", CARRIERS)
def test_the_quick_reading_agrees_with_the_propagators(name: str) -> None:
    carrier = CARRIERS[name]
    assert seen(context_from(carrier)) == seen(propagate.extract(dict(carrier)))


def test_nothing_is_read_from_no_carrier() -> None:
    assert not trace.get_current_span(context_from(None)).get_span_context().is_valid


def test_a_span_started_in_the_context_read_continues_the_trace() -> None:
    local = TracerProvider().get_tracer("test")
    with local.start_as_current_span("publish") as published:
        carrier = current_carrier()
    with local.start_as_current_span("process", context=context_from(carrier)) as processed:
        pass
    assert processed.get_span_context().trace_id == published.get_span_context().trace_id
    assert processed.parent is not None and processed.parent.span_id == published.get_span_context().span_id


NOT_SAMPLED = {"traceparent": f"00-{TRACE}-{SPAN}-00"}


def test_with_traces_off_spans_record_nothing_but_the_trace_still_joins_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    tracer = tracer_provider("risk", PlatformSettings(casework_data_dir=tmp_path)).get_tracer("test")
    with tracer.start_as_current_span("grpc") as root:
        carrier = current_carrier()
    assert not root.is_recording()
    assert root.get_span_context().is_valid  # a trace id to store with events and log
    with tracer.start_as_current_span("process", context=context_from(carrier)) as consumed:
        pass
    assert consumed.get_span_context().trace_id == root.get_span_context().trace_id
    assert not (tmp_path / "risk").exists()


def test_a_service_writing_traces_records_its_spans_under_a_caller_that_records_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    provider = tracer_provider("reporting", PlatformSettings(casework_data_dir=tmp_path, casework_traces="file"))
    with provider.get_tracer("test").start_as_current_span("process", context=context_from(NOT_SAMPLED)) as span:
        pass
    provider.shutdown()
    assert span.is_recording() is False  # ended
    written = [json.loads(line) for line in (tmp_path / "reporting" / "traces.jsonl").read_text().splitlines()]
    assert [(w["name"], w["context"]["trace_id"], w["parent_id"]) for w in written] == [("process", f"0x{TRACE}", f"0x{SPAN}")]


def test_an_operator_sampler_decides_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    provider = tracer_provider("reporting", PlatformSettings(casework_data_dir=tmp_path, casework_traces="file"))
    with provider.get_tracer("test").start_as_current_span("process", context=context_from(NOT_SAMPLED)) as span:
        assert not span.is_recording()  # the caller's "not sampled" is followed


def test_spans_go_to_an_otlp_collector_over_grpc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    with TraceCollector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        provider = tracer_provider("referral", PlatformSettings(casework_data_dir=tmp_path, casework_traces="otlp"))
        tracer = provider.get_tracer("test")
        with (
            tracer.start_as_current_span("process", context=context_from(NOT_SAMPLED), attributes={"casework.source": "risk"}),
            tracer.start_as_current_span("store.append") as inner,
        ):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
        got = {s.name: s for s in collector.spans()}
    assert set(got) == {"process", "store.append"}
    assert {s.service for s in got.values()} == {"referral"}
    assert {s.trace_id for s in got.values()} == {TRACE}  # the caller's trace, not a new one
    assert got["process"].parent_span_id == SPAN
    assert got["store.append"].parent_span_id == got["process"].span_id == f"{inner.parent.span_id:016x}"
    assert got["process"].attributes == {"casework.source": "risk"}
    assert not (tmp_path / "referral").exists()  # nothing written locally


def test_an_unknown_trace_destination_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="casework_traces"):
        PlatformSettings(casework_traces="jaeger")
