from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from google.protobuf import any_pb2, timestamp_pb2

from caseplatform import envelope as env
from caseplatform.envelope import (
    UnreadableMessage,
    from_timestamp,
    parse_envelope,
    register_upcaster,
    to_timestamp,
)
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


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2027, 3, 28, 0, 59, 59, 999_999, tzinfo=ZoneInfo("Europe/London")),  # just before BST
        datetime(2027, 3, 28, 2, 0, 0, 1, tzinfo=ZoneInfo("Europe/London")),
        datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/London"), fold=1),  # the repeated hour, GMT
        datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/London"), fold=0),  # ... and BST
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),  # before the epoch: nanos stay positive
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2027, 6, 10, 12, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
)
def test_timestamps_are_exact_to_the_microsecond_in_any_zone(instant: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(instant.astimezone(UTC))
    assert to_timestamp(instant) == expected
    assert from_timestamp(to_timestamp(instant)) == instant.astimezone(UTC)  # (PEP 495: a fold never equals across zones)
