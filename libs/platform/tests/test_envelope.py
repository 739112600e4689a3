from datetime import UTC, datetime

import pytest
from google.protobuf import any_pb2

from caseplatform import envelope as env
from caseplatform.envelope import UnreadableMessage, parse_envelope, register_upcaster
from casework.common.v1 import envelope_pb2
from casework.intake.v1 import events_pb2

from .fakes import incoming


def test_round_trip_keeps_every_envelope_field() -> None:
    event = incoming("case-1", notification_id=7, previous=3, partition=2)
    assert event.event_type == "intake.v1.DisclosureReceived"
    assert event.case_id == "case-1"
    assert (event.source_service, event.notification_id, event.previous_notification_id) == ("intake", 7, 3)
    assert event.envelope.source.partition == 2
    assert event.occurred_at == datetime(2027, 3, 26, 17, 30, tzinfo=UTC)
    assert event.recorded_at == datetime(2027, 3, 26, 17, 31, tzinfo=UTC)
    assert event.actor.role == "CHO"
    assert isinstance(event.payload, events_pb2.DisclosureReceived)
    assert event.payload.tenant_ref == "T-1"


def test_event_ids_are_stable_across_republishing() -> None:
    assert incoming("c", 1, 0).envelope.event_id == incoming("c", 1, 0).envelope.event_id
    assert incoming("c", 1, 0).envelope.event_id != incoming("c", 2, 1).envelope.event_id


@pytest.mark.parametrize("value", [b"", b"\xff\xfe garbage", None])
def test_garbage_is_unreadable(value: bytes | None) -> None:
    with pytest.raises(UnreadableMessage):
        parse_envelope(value)


def test_envelope_without_source_position_is_unreadable() -> None:
    bare = envelope_pb2.EventEnvelope(event_type="intake.v1.DisclosureReceived")
    with pytest.raises(UnreadableMessage, match="source position"):
        parse_envelope(bare.SerializeToString())


def test_unknown_event_type_is_tolerated_with_no_payload() -> None:
    event = incoming("c", 1, 0)
    newer = envelope_pb2.EventEnvelope()
    newer.CopyFrom(event.envelope)
    newer.event_type = "intake.v9.SomethingNew"
    newer.payload.CopyFrom(any_pb2.Any(type_url="type.googleapis.com/intake.v9.SomethingNew"))
    parsed = parse_envelope(newer.SerializeToString())
    assert parsed.payload is None
    assert parsed.notification_id == 1


def test_old_schema_versions_are_upcast_on_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env, "_upcasters", {})
    monkeypatch.setattr(env, "_current_versions", {})

    def v1_to_v2(message: events_pb2.DisclosureReceived) -> events_pb2.DisclosureReceived:
        upgraded = events_pb2.DisclosureReceived()
        upgraded.CopyFrom(message)
        upgraded.postcode_district = upgraded.postcode_district or "UNKNOWN"
        return upgraded

    register_upcaster("intake.v1.DisclosureReceived", 1, 2, v1_to_v2)
    assert env.current_schema_version("intake.v1.DisclosureReceived") == 2
    parsed = parse_envelope(incoming("c", 1, 0).envelope.SerializeToString())
    assert parsed.payload.postcode_district == "UNKNOWN"
