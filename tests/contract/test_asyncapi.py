"""The AsyncAPI document outside subscribers read is generated from the code and kept current."""

from __future__ import annotations

import json
from pathlib import Path

from caseplatform.asyncapi import document
from caseplatform.envelope import event_types
from caseplatform.topology import SERVICES, SUBSCRIPTIONS, dead_letter_topic_for, topic_for

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert COMMITTED.read_text() == document(), "run `make asyncapi` and commit docs/asyncapi.json"


def test_every_topic_and_every_event_type_is_listed() -> None:
    spec = json.loads(document())
    addresses = {channel["address"] for channel in spec["channels"].values()}
    assert {topic_for(s) for s in SERVICES} <= addresses
    assert {dead_letter_topic_for(s) for s in SERVICES if SUBSCRIPTIONS[s]} <= addresses
    text = json.dumps(spec)
    for service in SERVICES:
        for event_type in event_types(service):
            assert event_type in text
    assert "intake.v1.DisclosureReceived" in text
