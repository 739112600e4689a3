"""Traces to an OpenTelemetry collector (CASEWORK_TRACES=otlp): the whole stack, one disclosure,
one trace across the services, and nothing personal in what the collector receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from caseplatform.devstack.collector import TraceCollector

from .client import Client, disclosure, eventually
from .conftest import new_stack

pytestmark = pytest.mark.system


def test_a_disclosure_is_one_trace_at_the_collector(tmp_path: Path) -> None:
    with TraceCollector() as collector, new_stack(
        tmp_path,
        CASEWORK_TRACES="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="200",  # ms between batches (5 s by default)
    ) as stack:
        client = Client(stack)
        try:
            request = disclosure(children=1)
            submitted = client.submit(request)

            def one_trace() -> set[tuple[str, str]]:
                spans = collector.spans()
                submit = [s for s in spans if s.name.endswith("SubmitDisclosure")]
                assert submit and {s.service for s in submit} == {"intake"}
                trace_id = submit[-1].trace_id
                joined = {(s.service, s.name) for s in spans if s.trace_id == trace_id}
                assert ("intake", "publish intake.v1.DisclosureReceived") in joined
                assert ("risk", "process intake.v1.DisclosureReceived") in joined
                assert ("referral", "process intake.v1.DisclosureReceived") in joined
                # Two hops away: intake → risk → reporting, still the same trace.
                assert ("reporting", "process risk.v1.AssessmentRequired") in joined
                # Every service took part, each sending its spans in its own batches.
                assert {service for service, _ in joined} == {"intake", "risk", "referral", "marac", "repairs", "reporting"}
                return joined

            eventually(one_trace, timeout=30)
            assert not any((stack.data_dir / s / "traces.jsonl").exists() for s in stack.services)
            personal = {submitted.case_id, request.victim.name, request.victim.tenant_ref,
                        request.victim.address.line1, request.victim.address.postcode}
            sent = repr([(s.name, s.attributes) for s in collector.spans()])
            assert not [p for p in personal if p in sent]
        finally:
            client.close()
