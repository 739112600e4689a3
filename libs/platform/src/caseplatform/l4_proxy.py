"""A stand-in for Kubernetes' Service proxy (kube-proxy): one address in front of a service's
replicas, each new TCP connection sent to the next endpoint in turn. Like kube-proxy, it learns
that an endpoint went away some time after the pod was told to stop (`remove(..., after=)`),
and until then it still sends new connections there; an endpoint that refuses one makes it
reset the caller's connection, as a DNAT to a closed port would. For tests (rolling restarts,
connections moving between replicas)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Sequence
from typing import Self


class L4Proxy:
    def __init__(self, endpoints: Sequence[str]) -> None:
        self._endpoints = list(endpoints)
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="l4-proxy")
        self.port = 0
        self.connections = 0  # connections callers opened through the proxy
        self.refused = 0  # of them, those an endpoint refused (the caller's was reset)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.BaseTransport] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for transport in self._open:
            transport.abort()  # each pump then ends on its own
        await asyncio.sleep(0.1)

    def add(self, endpoint: str) -> None:
        self._loop.call_soon_threadsafe(self._endpoints.append, endpoint)

    def remove(self, endpoint: str, after: float) -> None:
        """Stop sending new connections to `endpoint` `after` seconds from now (existing ones stay)."""
        self._loop.call_soon_threadsafe(self._loop.call_later, after, self._endpoints.remove, endpoint)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._connect, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        endpoint = self._endpoints[next(self._turn) % len(self._endpoints)]
        host, port = endpoint.rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            self.refused += 1
            writer.transport.abort()  # a reset, as the caller would get from a closed port
            return
        transports = {writer.transport, up_writer.transport}
        self._open |= transports
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._open -= transports


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        sink.close()  # one side closed: close the other (each pump closes what it writes to)
