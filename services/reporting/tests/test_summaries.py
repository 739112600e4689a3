"""Every published event type reads as plain language on a regulator's timeline."""

from __future__ import annotations

from typing import Any

import pytest

from caseplatform.envelope import contract_class, event_types
from caseplatform.topology import SERVICES
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from reporting.domain.summaries import SUMMARIES, summarise


@pytest.mark.parametrize("service", SERVICES)
def test_every_event_a_service_publishes_has_a_summary(service: str) -> None:
    missing = [t for t in event_types(service) if t not in SUMMARIES]
    assert missing == []


def test_summaries_name_no_one() -> None:
    disclosure = intake_events.DisclosureReceived(
        case_id="c", channel=intake_pb2.THIRD_PARTY, tenant_ref="T-77", postcode_district="NP4", children_ages=[3, 5]
    )
    text = summarise("intake.v1.DisclosureReceived", disclosure)
    assert text == "Disclosure received (third party); 2 children in the household; patch NP4"
    assert "T-77" not in text


def test_safe_contact_says_whether_it_met_the_deadline() -> None:
    made_late = intake_events.SafeContactRecorded(case_id="c", outcome=intake_pb2.MADE, deadline_met=False)
    assert summarise("intake.v1.SafeContactRecorded", made_late) == "Safe contact made (after the deadline)"
    attempt = intake_events.SafeContactRecorded(case_id="c", outcome=intake_pb2.ATTEMPTED)
    assert summarise("intake.v1.SafeContactRecorded", attempt) == "Safe contact attempted, not made"


def _with_unknown_enum_values(payload_class: type) -> Any:
    """A payload whose every enum field holds a number this build does not know (a newer
    publisher added the value: a compatible contract change)."""
    payload = payload_class()
    for field in payload_class.DESCRIPTOR.fields:
        if field.enum_type is None:
            continue
        if field.is_repeated:
            getattr(payload, field.name).append(9999)
        else:
            setattr(payload, field.name, 9999)
    return payload


WITH_ENUMS = [
    t for t in sorted(SUMMARIES)
    if (c := contract_class(t)) is not None and any(f.enum_type is not None for f in c.DESCRIPTOR.fields)
]


@pytest.mark.parametrize("event_type", WITH_ENUMS)
def test_an_enum_value_from_a_newer_publisher_reads_as_unrecognised(event_type: str) -> None:
    """A tolerant reader: an unknown enum number neither fails the event (it would be dead-lettered
    and its deadline left open) nor reads as some other value."""
    text = summarise(event_type, _with_unknown_enum_values(contract_class(event_type)))
    assert isinstance(text, str) and text
    assert "9999" not in text.lower().replace("unrecognised value 9999", "")
