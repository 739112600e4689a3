"""The kcat shim sends clients back to itself: the broker's port in Metadata and FindCoordinator
responses becomes the shim's, in every version of each (tests/system/test_kcat.py drives kcat
through it). Older versions are encoded by aiokafka's own protocol classes; the flexible ones
(KIP-482: compact strings and arrays, tagged fields), which aiokafka does not have, by hand."""

from __future__ import annotations

import struct

import pytest
from aiokafka.protocol.coordination import FindCoordinatorResponse_v0, FindCoordinatorResponse_v1
from aiokafka.protocol.metadata import (
    MetadataResponse_v0,
    MetadataResponse_v1,
    MetadataResponse_v2,
    MetadataResponse_v3,
    MetadataResponse_v5,
)

from caseplatform.devstack.apiversions_shim import FIND_COORDINATOR, METADATA, rewrite_broker_port

BROKER, SHIM, OTHER = 9092, 9093, 9094
CORRELATION = struct.pack(">i", 7)


def _compact(text: str | None) -> bytes:
    if text is None:
        return b"\x00"
    raw = text.encode()
    return bytes([len(raw) + 1]) + raw  # short strings: one varint byte


def _ports(frame: bytes, host: str = "127.0.0.1") -> list[int]:
    """Every port that follows `host` in a frame (a string or compact string of it)."""
    found, raw = [], host.encode()
    at = frame.find(raw)
    while at >= 0:
        found.append(struct.unpack_from(">i", frame, at + len(raw))[0])
        at = frame.find(raw, at + 1)
    return found


def _rewritten(frame: bytes, api_key: int, version: int) -> bytes:
    out = rewrite_broker_port(frame, api_key, version, BROKER, SHIM)
    assert len(out) == len(frame)  # nothing moves but the port
    return out


@pytest.mark.parametrize(("version", "response"), [
    (0, MetadataResponse_v0(brokers=[(1, "127.0.0.1", BROKER), (2, "127.0.0.1", OTHER)], topics=[])),
    (1, MetadataResponse_v1(brokers=[(1, "127.0.0.1", BROKER, "rack-a")], controller_id=1, topics=[])),
    (2, MetadataResponse_v2(brokers=[(1, "127.0.0.1", BROKER, None)], cluster_id="c", controller_id=1, topics=[])),
    (3, MetadataResponse_v3(throttle_time_ms=0, brokers=[(1, "127.0.0.1", BROKER, None)], cluster_id="c",
                            controller_id=1, topics=[])),
    (5, MetadataResponse_v5(throttle_time_ms=0, brokers=[(1, "127.0.0.1", BROKER, None), (2, "127.0.0.1", BROKER, "r")],
                            cluster_id="c", controller_id=1, topics=[])),
])
def test_metadata_names_the_shim_where_it_named_the_broker(version: int, response: object) -> None:
    frame = CORRELATION + response.encode()  # type: ignore[attr-defined]
    before = _ports(frame)
    after = _ports(_rewritten(frame, METADATA, version))
    assert after == [SHIM if port == BROKER else port for port in before] and BROKER in before


def test_flexible_metadata_is_rewritten_too() -> None:
    brokers = b"".join(
        struct.pack(">i", node) + _compact("127.0.0.1") + struct.pack(">i", port) + _compact(rack) + b"\x00"
        for node, port, rack in [(1, BROKER, None), (2, OTHER, "rack-b")]
    )
    # header tags, throttle time, compact array of two brokers, then what follows (left alone)
    frame = CORRELATION + b"\x00" + struct.pack(">i", 0) + bytes([3]) + brokers + _compact("cluster") + b"\x00"
    assert _ports(_rewritten(frame, METADATA, 12)) == [SHIM, OTHER]


@pytest.mark.parametrize(("version", "response"), [
    (0, FindCoordinatorResponse_v0(error_code=0, coordinator_id=1, host="127.0.0.1", port=BROKER)),
    (1, FindCoordinatorResponse_v1(throttle_time_ms=0, error_code=0, error_message=None, coordinator_id=1,
                                   host="127.0.0.1", port=BROKER)),
])
def test_find_coordinator_names_the_shim(version: int, response: object) -> None:
    frame = CORRELATION + response.encode()  # type: ignore[attr-defined]
    assert _ports(_rewritten(frame, FIND_COORDINATOR, version)) == [SHIM]


def test_flexible_find_coordinator_one_or_many_is_rewritten() -> None:
    single = (CORRELATION + b"\x00" + struct.pack(">ih", 0, 0) + _compact(None) + struct.pack(">i", 1)
              + _compact("127.0.0.1") + struct.pack(">i", BROKER) + b"\x00")
    assert _ports(_rewritten(single, FIND_COORDINATOR, 3)) == [SHIM]
    coordinators = b"".join(
        _compact(key) + struct.pack(">i", 1) + _compact("127.0.0.1") + struct.pack(">ih", BROKER, 0)
        + _compact(None) + b"\x00"
        for key in ("group-a", "group-b")
    )
    many = CORRELATION + b"\x00" + struct.pack(">i", 0) + bytes([3]) + coordinators + b"\x00"
    assert _ports(_rewritten(many, FIND_COORDINATOR, 4)) == [SHIM, SHIM]
