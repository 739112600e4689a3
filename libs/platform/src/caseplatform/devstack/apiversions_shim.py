"""A TCP shim that lets older librdkafka clients (Debian bookworm's kcat, librdkafka 2.0.2)
talk to Tansu.

Tansu 0.6 answers ApiVersions v3 with the KIP-482 tagged fields of newer brokers
(SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures, ZkMigrationReady); librdkafka
2.0.2 misreads them and drops the connection. The shim forwards every byte unchanged except
those tagged fields of ApiVersions responses, which it empties. Local development only:
production Kafka and current clients need nothing of the kind.

Run it in front of a broker started with `--advertised-listener-url` pointing at the shim, so
that clients come back through it after bootstrap:
`python -m caseplatform.devstack.apiversions_shim LISTEN_PORT BROKER_PORT`.
"""

from __future__ import annotations

import asyncio
import struct
import sys

API_VERSIONS = 18


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


class _Connection:
    def __init__(self) -> None:
        self.api_versions_v3: set[int] = set()  # correlation ids of ApiVersions v3+ requests


async def _frames(reader: asyncio.StreamReader):
    while True:
        head = await reader.readexactly(4)
        (size,) = struct.unpack(">i", head)
        yield await reader.readexactly(size)


async def _client_to_broker(conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for frame in _frames(reader):
        api_key, api_version, correlation = struct.unpack(">hhi", frame[:8])
        if api_key == API_VERSIONS and api_version >= 3:
            conn.api_versions_v3.add(correlation)
        writer.write(struct.pack(">i", len(frame)) + frame)
        await writer.drain()


async def _broker_to_client(conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for frame in _frames(reader):
        (correlation,) = struct.unpack(">i", frame[:4])
        if correlation in conn.api_versions_v3:
            conn.api_versions_v3.discard(correlation)
            frame = strip_api_versions_tags(frame)
        writer.write(struct.pack(">i", len(frame)) + frame)
        await writer.drain()


async def serve(listen_port: int, broker_port: int, host: str = "127.0.0.1") -> asyncio.Server:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(host, broker_port)
        conn = _Connection()
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
