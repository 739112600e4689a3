"""One relay per service, however many replicas run.

Every replica of a service runs the same relay loop, but only the holder of the service's relay
lease publishes; the others wait to take over. Two relays would not break correctness (consumers
drop repeats), but they would double the traffic and interleave two copies of every chain.

* PostgreSQL: a session-level advisory lock, held on a connection of its own. If the holder dies
  or loses its connection, the server releases the lock and a standby takes it within a second.
* SQLite: an exclusive `flock` on a file beside the store (one machine, one store file).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from caseplatform import metrics
from caseplatform.postgres_connections import service_connect_options
from caseplatform.settings import PlatformSettings

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This replica no longer holds the relay lease: stop publishing."""


class RelayLease(Protocol):
    def try_acquire(self) -> bool: ...
    def check(self) -> None: ...
    def release(self) -> None: ...


def lease_key(service: str) -> int:
    """A stable signed 64-bit advisory-lock key for this service's relay."""
    digest = hashlib.sha256(f"casework-relay:{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLease:
    def __init__(self, dsn: str, service: str, options: dict[str, Any] | None = None) -> None:
        self._dsn = dsn
        # Bounded against a silent peer (postgres_connections): a holder cut off from the server
        # learns it has lost the lease, and the server releases it to a standby, within that bound.
        self._options = options or {"connect_timeout": 10}
        self._key = lease_key(service)
        self._connection: Any = None
        self._held = False

    def try_acquire(self) -> bool:
        import psycopg

        if self._held:
            try:
                self.check()
                return True  # already ours (the relay restarts its loop after broker trouble)
            except LeaseLost:
                pass
        if self._connection is None:
            self._connection = psycopg.connect(self._dsn, autocommit=True, **self._options)
        # Asked again on the same session by a standby: a lock it does not hold stays refused (a
        # live connection alone is not the lease).
        row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", [self._key]).fetchone()
        self._held = bool(row and row[0])
        return self._held

    def check(self) -> None:
        """Still ours? A session lock lasts as long as its session: a live connection holds it,
        a dropped one means the server already let another replica in."""
        if self._connection is None or not self._held:
            raise LeaseLost("the lease is not held")
        try:
            self._connection.execute("SELECT 1")
        except Exception as exc:
            self.release()
            raise LeaseLost(f"lease connection failed: {type(exc).__name__}") from exc

    def release(self) -> None:
        held, self._held = self._held, False
        if self._connection is not None:
            try:
                if held:
                    # Unlocked before the session closes: the server ends a closed session's
                    # backend a moment later, and a standby asking meanwhile was refused.
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", [self._key])
            except Exception:
                log.debug("lease unlock failed (closing the session releases it)", exc_info=True)
            try:
                self._connection.close()  # closing the session releases the lock
            except Exception:
                log.debug("lease connection close failed", exc_info=True)
            self._connection = None


class FileLease:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True  # already ours: a second flock on a new descriptor would block on our own
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def check(self) -> None:
        if self._fd is None:
            raise LeaseLost("file lock not held")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def lease_for(service: str, settings: PlatformSettings) -> RelayLease:
    if settings.casework_persistence == "postgres":
        return PostgresLease(settings.casework_postgres_dsn, service, service_connect_options(settings))
    return FileLease(settings.casework_data_dir / service / "relay.lock")


async def acquire(lease: RelayLease, service: str, retry_s: float = 1.0) -> None:
    """Wait until this replica holds the lease (a standby waits here, quietly)."""
    said = False
    while True:
        try:
            if await asyncio.to_thread(lease.try_acquire):
                metrics.RELAY_LEASE_HELD.labels(service).set(1)
                if said:
                    log.info("relay %s: lease taken over; this replica publishes now", service)
                return
        except Exception as exc:  # noqa: BLE001 - database away: keep trying, like the broker
            log.warning("relay %s: cannot reach the lease (%s); retrying", service, type(exc).__name__)
            await asyncio.to_thread(lease.release)
        metrics.RELAY_LEASE_HELD.labels(service).set(0)
        if not said:
            log.info("relay %s: another replica publishes; standing by", service)
            said = True
        await asyncio.sleep(retry_s)


async def give_up(lease: RelayLease, service: str) -> None:
    """Release the lease (a relay stopping, or finding it lost) and say so on /metrics."""
    metrics.RELAY_LEASE_HELD.labels(service).set(0)
    await asyncio.to_thread(lease.release)
