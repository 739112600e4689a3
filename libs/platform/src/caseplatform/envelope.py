"""The event envelope on Kafka: building it (relay side) and reading it (consumer side).

The value of every Kafka message is a serialised `common.v1.EventEnvelope` whose `payload` is a
`google.protobuf.Any` holding the event message from `proto/<service>/v1/events.proto`.
Old payloads stay readable: an upcaster registered for (event type, schema version) lifts them to
the current version on read; history is never rewritten.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid5

from google.protobuf import any_pb2, message_factory, timestamp_pb2
from google.protobuf.descriptor_pool import Default as default_pool
from google.protobuf.message import DecodeError, Message

from caseplatform.identity import Actor
from caseplatform.topology import SERVICES
from casework.common.v1 import envelope_pb2

CONTENT_TYPE = "application/x-protobuf; messageType=common.v1.EventEnvelope"
EVENT_ID_NAMESPACE = UUID("5b0e5c1e-3f7a-4d55-9c5a-1f1c9a4f2d10")

Upcaster = Callable[[Message], Message]
_upcasters: dict[tuple[str, int], tuple[Upcaster, int]] = {}
_current_versions: dict[str, int] = {}


class UnreadableMessage(Exception):
    """A Kafka message that is not an event envelope we can read: it goes to the dead-letter topic."""


@functools.cache
def load_contracts() -> None:
    """Import every service's event module so their payload types are in the descriptor pool."""
    importlib.import_module("casework.common.v1.access_pb2")  # the read audit's CaseAccessed (ADR 0021)
    for service in SERVICES:
        importlib.import_module(f"casework.{service}.v1.events_pb2")


def event_types(service: str) -> list[str]:
    """The event messages a service publishes: every message in its events.proto."""
    module = importlib.import_module(f"casework.{service}.v1.events_pb2")
    return sorted(m.full_name for m in module.DESCRIPTOR.message_types_by_name.values())


def register_upcaster(event_type: str, from_version: int, to_version: int, fn: Upcaster) -> None:
    """Lift payloads of `event_type` written at `from_version` to `to_version` when read."""
    _upcasters[(event_type, from_version)] = (fn, to_version)
    _current_versions[event_type] = max(_current_versions.get(event_type, 1), to_version)


def current_schema_version(event_type: str) -> int:
    return _current_versions.get(event_type, 1)


def event_id_for(service: str, aggregate_id: UUID | str, version: int) -> str:
    """Stable: re-publishing the same stored event gives the same event id."""
    return str(uuid5(EVENT_ID_NAMESPACE, f"{service}/{aggregate_id}/{version}"))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_timestamp(instant: datetime) -> timestamp_pb2.Timestamp:
    """Exact to the microsecond, by timedelta arithmetic: protobuf's `FromDatetime` goes through
    `utctimetuple` and `calendar.timegm` and was a tenth of publishing an event (five per
    envelope). A naive datetime is taken as local time, as `astimezone` takes it."""
    if instant.tzinfo is None:
        instant = instant.astimezone(UTC)
    since = instant - _EPOCH
    return timestamp_pb2.Timestamp(seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000)


def from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


@dataclass(frozen=True)
class OutgoingEvent:
    """What a service's translation layer makes of one of its domain events."""

    case_id: str
    payload: Message
    occurred_at: datetime
    schema_version: int = 1


@dataclass(frozen=True)
class SourcePosition:
    service: str
    notification_id: int
    partition: int
    previous_notification_id: int


def build_envelope(
    outgoing: OutgoingEvent,
    *,
    aggregate_id: UUID | str,
    aggregate_version: int,
    recorded_at: datetime,
    actor: Actor,
    source: SourcePosition,
) -> envelope_pb2.EventEnvelope:
    payload = any_pb2.Any()
    payload.Pack(outgoing.payload)
    return envelope_pb2.EventEnvelope(
        event_id=event_id_for(source.service, aggregate_id, aggregate_version),
        event_type=outgoing.payload.DESCRIPTOR.full_name,
        schema_version=outgoing.schema_version,
        case_id=outgoing.case_id,
        aggregate_id=str(aggregate_id),
        aggregate_version=aggregate_version,
        occurred_at=to_timestamp(outgoing.occurred_at),
        recorded_at=to_timestamp(recorded_at),
        actor=envelope_pb2.Actor(agency=actor.agency, role=actor.role, user=actor.user),
        source=envelope_pb2.Source(
            service=source.service,
            notification_id=source.notification_id,
            partition=source.partition,
            previous_notification_id=source.previous_notification_id,
        ),
        payload=payload,
    )


@dataclass(frozen=True)
class IncomingEvent:
    """An envelope read off Kafka, its payload decoded (and upcast) — or None if the type is unknown."""

    envelope: envelope_pb2.EventEnvelope
    payload: Message | None
    headers: dict[str, str] = field(default_factory=dict)
    # Set when the envelope is sound but its payload could not be read (or upcast): the inbox
    # dead-letters it in its place in the chain, so the partition carries on.
    payload_error: str | None = None

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def case_id(self) -> str:
        return self.envelope.case_id

    @property
    def source_service(self) -> str:
        return self.envelope.source.service

    @property
    def notification_id(self) -> int:
        return self.envelope.source.notification_id

    @property
    def previous_notification_id(self) -> int:
        return self.envelope.source.previous_notification_id

    @property
    def occurred_at(self) -> datetime:
        return from_timestamp(self.envelope.occurred_at)

    @property
    def recorded_at(self) -> datetime:
        return from_timestamp(self.envelope.recorded_at)

    @property
    def actor(self) -> Actor:
        a = self.envelope.actor
        return Actor(agency=a.agency, role=a.role, user=a.user)


def parse_envelope(value: bytes | None, headers: dict[str, str] | None = None) -> IncomingEvent:
    """Read a Kafka message value. Unknown payload types are tolerated (payload None)."""
    if not value:
        raise UnreadableMessage("empty message value")
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(value)
    except DecodeError as exc:
        raise UnreadableMessage(f"not an EventEnvelope: {exc}") from exc
    if not envelope.event_type or not envelope.source.service or not envelope.source.notification_id:
        raise UnreadableMessage("envelope lacks event_type or source position")
    try:
        payload = _decode_payload(envelope)
    except Exception as exc:  # noqa: BLE001 - a bad payload or a failing upcaster, reported as such
        return IncomingEvent(envelope, None, dict(headers or {}), payload_error=f"{type(exc).__name__}: {exc}")
    return IncomingEvent(envelope, payload, dict(headers or {}))


def contract_class(full_name: str) -> type[Message] | None:
    """The generated class of a contract message by its full name, or None if unknown here."""
    if (found := _contract_classes.get(full_name)) is not None:
        return found  # looked up once per type: every event read asks
    if not full_name:
        return None
    load_contracts()
    try:
        found = message_factory.GetMessageClass(default_pool().FindMessageTypeByName(full_name))
    except KeyError:
        return None
    _contract_classes[full_name] = found
    return found


_contract_classes: dict[str, type[Message]] = {}


def _decode_payload(envelope: envelope_pb2.EventEnvelope) -> Message | None:
    message_class = contract_class(envelope.event_type)
    if message_class is None:
        return None  # a newer publisher's event type: tolerant reader, nothing to do with it
    # What `Any.Unpack` checks and does, without its per-call descriptor lookups.
    if envelope.payload.type_url.rpartition("/")[2] != envelope.event_type:
        raise UnreadableMessage(f"payload is not a {envelope.event_type}")
    message = message_class.FromString(envelope.payload.value)
    version = envelope.schema_version or 1
    while (envelope.event_type, version) in _upcasters:
        upcast, version = _upcasters[(envelope.event_type, version)]
        message = upcast(message)
    return message
