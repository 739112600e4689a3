"""A TCP shim that lets older librdkafka clients (Debian bookworm's kcat, librdkafka 2.0.2)
talk to Tansu.

Tansu 0.6 answers ApiVersions v3 with the KIP-482 tagged fields of newer brokers
(SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures, ZkMigrationReady); librdkafka
2.0.2 misreads them and drops the connection. The shim forwards every byte unchanged except
those tagged fields of ApiVersions responses, which it empties. Local development only:
production Kafka and current clients need nothing of the kind.

Clients must come back through the shim after bootstrap, so it also rewrites the broker's port
in Metadata and FindCoordinator responses to its own: the broker keeps advertising its own
address to every other client (the services talk to it directly; nothing of theirs passes
through here), and `make run` puts the shim beside it for kcat (`KCAT_PORT`, 9093).
`python -m caseplatform.devstack.apiversions_shim LISTEN_PORT BROKER_PORT`.
"""

from __future__ import annotations

import asyncio
import struct
import sys

API_VERSIONS, METADATA, FIND_COORDINATOR = 18, 3, 10
# The first version of each API whose messages are "flexible" (KIP-482: compact strings and
# arrays, tagged fields, and a response header with tagged fields).
_FLEXIBLE_FROM = {METADATA: 9, FIND_COORDINATOR: 3}


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _skip_tagged_fields(data: bytes, at: int) -> int:
    count, at = _uvarint(data, at)
    for _ in range(count):
        _, at = _uvarint(data, at)
        size, at = _uvarint(data, at)
        at += size
    return at


def strip_api_versions_tags(frame: bytes) -> bytes:
    """An ApiVersions v3 response (without its size prefix) with empty top-level tagged fields."""
    at = 4 + 2  # correlation id, error code
    entries, at = _uvarint(frame, at)
    for _ in range(max(entries - 1, 0)):
        at = _skip_tagged_fields(frame, at + 6)  # api key, min and max version
    at += 4  # throttle time
    return frame[:at] + b"\x00"


class _Reader:
    """Walks a response frame to the broker ports it holds."""

    def __init__(self, frame: bytes, flexible: bool) -> None:
        self.frame, self.at, self.flexible = frame, 0, flexible

    def skip(self, size: int) -> None:
        self.at += size

    def count(self) -> int:
        """An array's length (a compact array's is stored plus one)."""
        if self.flexible:
            value, self.at = _uvarint(self.frame, self.at)
            return max(value - 1, 0)
        (value,) = struct.unpack_from(">i", self.frame, self.at)
        self.at += 4
        return max(value, 0)

    def skip_string(self) -> None:
        if self.flexible:
            length, self.at = _uvarint(self.frame, self.at)
            self.at += max(length - 1, 0)
        else:
            (length,) = struct.unpack_from(">h", self.frame, self.at)
            self.at += 2 + max(length, 0)

    def skip_tags(self) -> None:
        if self.flexible:
            self.at = _skip_tagged_fields(self.frame, self.at)

    def port_at(self) -> int:
        """Where the next int32 (a port) is, stepping over it."""
        at, self.at = self.at, self.at + 4
        return at


def _broker_ports(frame: bytes, api_key: int, version: int) -> list[int]:
    """Offsets of the broker ports in a Metadata or FindCoordinator response frame."""
    r = _Reader(frame, version >= _FLEXIBLE_FROM[api_key])
    r.skip(4)  # correlation id
    r.skip_tags()  # response header v1
    ports = []
    if api_key == METADATA:
        if version >= 3:
            r.skip(4)  # throttle time
        for _ in range(r.count()):
            r.skip(4)  # node id
            r.skip_string()  # host
            ports.append(r.port_at())
            if version >= 1:
                r.skip_string()  # rack
            r.skip_tags()
        return ports
    if version >= 1:
        r.skip(4)  # throttle time
    if version >= 4:  # one coordinator per key asked for
        for _ in range(r.count()):
            r.skip_string()  # key
            r.skip(4)  # node id
            r.skip_string()  # host
            ports.append(r.port_at())
            r.skip(2)  # error code
            r.skip_string()  # error message
            r.skip_tags()
        return ports
    r.skip(2)  # error code
    if version >= 1:
        r.skip_string()  # error message
    r.skip(4)  # node id
    r.skip_string()  # host
    return [r.port_at()]


def rewrite_broker_port(frame: bytes, api_key: int, version: int, broker_port: int, listen_port: int) -> bytes:
    """A Metadata or FindCoordinator response naming `listen_port` where it named `broker_port`
    (the same size: nothing else moves)."""
    out = bytearray(frame)
    for at in _broker_ports(frame, api_key, version):
        if struct.unpack_from(">i", out, at)[0] == broker_port:
            struct.pack_into(">i", out, at, listen_port)
    return bytes(out)


class _Connection:
    def __init__(self, broker_port: int, listen_port: int) -> None:
        self.broker_port, self.listen_port = broker_port, listen_port
        # correlation id -> (api key, version) of the requests whose responses are rewritten
        self.pending: dict[int, tuple[int, int]] = {}

    def response(self, frame: bytes) -> bytes:
        (correlation,) = struct.unpack(">i", frame[:4])
        api = self.pending.pop(correlation, None)
        if api is None:
            return frame
        api_key, version = api
        if api_key == API_VERSIONS:
            return strip_api_versions_tags(frame) if version >= 3 else frame
        return rewrite_broker_port(frame, api_key, version, self.broker_port, self.listen_port)


async def _frames(reader: asyncio.StreamReader):
    while True:
        head = await reader.readexactly(4)
        (size,) = struct.unpack(">i", head)
        yield await reader.readexactly(size)


async def _client_to_broker(conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for frame in _frames(reader):
        api_key, api_version, correlation = struct.unpack(">hhi", frame[:8])
        if api_key in (API_VERSIONS, METADATA, FIND_COORDINATOR):
            conn.pending[correlation] = (api_key, api_version)
        writer.write(struct.pack(">i", len(frame)) + frame)
        await writer.drain()


async def _broker_to_client(conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for frame in _frames(reader):
        frame = conn.response(frame)
        writer.write(struct.pack(">i", len(frame)) + frame)
        await writer.drain()


async def serve(listen_port: int, broker_port: int, host: str = "127.0.0.1") -> asyncio.Server:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection(host, broker_port)
        except OSError:  # the broker is down (or restarting): the client sees its connection drop
            client_writer.close()
            return
        conn = _Connection(broker_port, listen_port)
        pumps = [
            asyncio.create_task(_client_to_broker(conn, client_reader, broker_writer)),
            asyncio.create_task(_broker_to_client(conn, broker_reader, client_writer)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        for writer in (client_writer, broker_writer):
            writer.close()

    return await asyncio.start_server(handle, host, listen_port)


async def _main(listen_port: int, broker_port: int) -> None:
    server = await serve(listen_port, broker_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), int(sys.argv[2])))
