"""The service's event store: an `eventsourcing` application on SQLite (default) or PostgreSQL.

Each service subclasses `ServiceApplication`. It records events with tracking (the process
recorder), so events caused by an upstream message are written atomically with that message's
position. The small helpers here run the few plain SQL statements the kernel needs (relay state,
counts) on whichever datastore is configured.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    EventStore,
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    ProcessRecorder,
    Recording,
    Transcoding,
)
from psycopg import InterfaceError as PgInterfaceError
from psycopg import OperationalError as PgOperationalError

from caseplatform.crypto import cipher_env
from caseplatform.identity import Actor
from caseplatform.postgres_connections import service_connect_options
from caseplatform.projection import RECORDER_TOPICS, Rows
from caseplatform.settings import PlatformSettings
from caseplatform.sqlite_health import heal_read_only_connections
from caseplatform.telemetry import current_carrier, tracer

log = logging.getLogger(__name__)

# A store not answering (a connection lost, a failover, a disk error, the pool empty, a file made
# read-only): the library's own errors and the drivers' raw ones, from a read-model query. Not the
# request's or the event's fault: the edge answers UNAVAILABLE (retry), the inbox fails the batch
# and reads it again rather than dead-letter a sound event (ADR 0039).
STORE_TROUBLE: tuple[type[BaseException], ...] = (
    OperationalError, InterfaceError, sqlite3.OperationalError, sqlite3.InterfaceError,
    PgOperationalError, PgInterfaceError,
)


class SetAsList(Transcoding):
    """Sets in an aggregate's state (a snapshot holds the whole state; events hold none)."""

    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return sorted(obj, key=str)  # the same set, the same bytes

    def decode(self, data: list[Any]) -> set[Any]:
        return set(data)


def persistence_env(service: str, settings: PlatformSettings) -> dict[str, str]:
    """The `eventsourcing` environment for this service's store, from platform settings."""
    if settings.casework_persistence == "sqlite":
        folder = settings.casework_data_dir / service
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str((folder / "events.sqlite").resolve()),
            "SQLITE_LOCK_TIMEOUT": "30",
            "PROCESS_RECORDER_TOPIC": RECORDER_TOPICS["sqlite"],
        }
    if settings.casework_persistence == "postgres":
        ensure_schema(settings, service)
        dsn = urlparse(settings.casework_postgres_dsn)
        return {
            "PERSISTENCE_MODULE": "caseplatform.postgres_factory:Factory",  # the library's, bounded (ADR 0017)
            "POSTGRES_DBNAME": dsn.path.lstrip("/") or "casework",
            "POSTGRES_HOST": dsn.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(dsn.port or 5432),
            "POSTGRES_USER": dsn.username or "postgres",
            "POSTGRES_PASSWORD": dsn.password or "",
            "POSTGRES_SCHEMA": service,  # one schema per service: no service reads another's tables
            "POSTGRES_POOL_SIZE": str(settings.casework_postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(settings.casework_postgres_max_overflow),
            "POSTGRES_CONNECT_TIMEOUT": str(settings.casework_postgres_connect_timeout_s),
            "POSTGRES_MAX_WAITING": str(settings.casework_postgres_max_waiting),
            "POSTGRES_CONN_MAX_AGE": str(settings.casework_postgres_conn_max_age_s),
            "POSTGRES_PRE_PING": "yes" if settings.casework_postgres_pre_ping else "no",
            "POSTGRES_LOCK_TIMEOUT": str(settings.casework_postgres_lock_timeout_s),
            "POSTGRES_DEAD_PEER_S": str(settings.casework_postgres_dead_peer_s),
            "PROCESS_RECORDER_TOPIC": RECORDER_TOPICS["postgres"],
        }
    raise ValueError(f"unknown CASEWORK_PERSISTENCE {settings.casework_persistence!r}")


def ensure_schema(settings: PlatformSettings, schema: str) -> None:
    """One schema per service (the library creates its tables inside it, not the schema)."""
    import psycopg
    from psycopg import sql

    options = service_connect_options(settings)
    with psycopg.connect(settings.casework_postgres_dsn, autocommit=True, **options) as connection, connection.transaction():
        # Replicas starting together take turns: a concurrent CREATE SCHEMA IF NOT EXISTS fails
        # on PostgreSQL's catalog (see `postgres_factory`).
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["casework:create-schema:" + schema])
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


class ServiceApplication(Application[UUID]):
    """Base for each service's `<Context>Application`."""

    # The library default (10) caps sections read through the notification log API
    # (ARCHITECTURE.md); the relay reads RELAY_SECTION_SIZE at a time directly.
    log_section_size = 1000

    def __init__(self, service: str, settings: PlatformSettings, env: dict[str, str] | None = None):
        self.service = service
        self.settings = settings
        self.env_overrides = dict(env or {})  # what another process needs to open the same store
        self._recorded_listeners: list[Callable[[Sequence[Recording[UUID]]], None]] = []
        self._committed_listeners: list[Callable[[ProcessingEvent[UUID]], None]] = []
        # Every stored event is encrypted at rest (caseplatform.crypto).
        super().__init__({**persistence_env(service, settings), **cipher_env(service, settings), **(env or {})})
        if settings.casework_persistence == "sqlite":
            heal_read_only_connections(self.recorder.datastore)  # type: ignore[attr-defined]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(SetAsList())

    def construct_repository(self) -> Repository[UUID]:
        repository = super().construct_repository()
        if self.snapshotting_intervals:
            repository._reconstruct_aggregate = partial(  # type: ignore[method-assign]
                short_first, repository._reconstruct_aggregate, repository.event_store,
                min(self.snapshotting_intervals.values()),
            )
        # Replay with `mutate_all` unless a caller passes its own projector (call-time keywords
        # override a partial's).
        repository.get = partial(repository.get, projector_func=mutate_all)  # type: ignore[method-assign]
        return repository

    def construct_recorder(self) -> ProcessRecorder:  # type: ignore[override]
        return self.factory.process_recorder()

    @property
    def store_is_shared(self) -> bool:
        """Can other processes write this store (replicas on PostgreSQL)? A SQLite store is one
        process's alone: its own commits are all there is to hear of."""
        return self.settings.casework_persistence != "sqlite"

    @property
    def process_recorder(self) -> ProcessRecorder:
        recorder = self.recorder
        assert isinstance(recorder, ProcessRecorder)
        return recorder

    @staticmethod
    def meta(actor: Actor, **extra: Any) -> dict[str, Any]:
        """What every domain event carries besides its data: who, and the trace it belongs to
        (saved with the event, so the relay continues this trace when it publishes later)."""
        return {"actor": actor.as_dict(), "trace": current_carrier(), **extra}

    def save(self, *objs: Any, rows: Rows = (), **kwargs: Any) -> list[Recording[UUID]]:
        """The library's `save`, collecting aggregates' events without its runtime-protocol
        `isinstance` checks (a typing.Protocol per object; what `Unit.collect` does for the inbox).
        Anything else — domain events, keyword arguments — goes the library's way.
        `rows`: ((writer, rows), ...) written in the same transaction as the events (ADR 0027)."""
        if rows:
            kwargs["rows"] = rows
        if (kwargs.keys() - {"rows"}) or not all(o is None or isinstance(o, Aggregate) for o in objs):
            return super().save(*objs, **kwargs)
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.saved_kwargs.update(kwargs)
        for aggregate in objs:
            if aggregate is not None:
                processing.events.extend(aggregate.collect_events())
                processing.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing)
        self._snapshot(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, called as its `save` does
        return recordings

    def _snapshot(self, processing: ProcessingEvent[UUID]) -> None:
        """Snapshots of aggregates configured for them, after their events are committed: best
        effort, so a failure is logged, not raised to a caller whose change is recorded (a
        missing snapshot only means a longer replay)."""
        if not self.snapshotting_intervals:
            return
        try:
            self._take_snapshots(processing)
        except Exception:
            log.warning("%s: snapshot not taken", self.service, exc_info=True)

    def rows_with(self, aggregates: Iterable[Any]) -> Rows:
        """Read-model rows to write in the transaction that records these aggregates' events
        (a service keeping a row per aggregate overrides this; ADR 0029)."""
        return ()

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        extra = self.rows_with(processing_event.aggregates.values())
        if extra:
            kwargs = processing_event.saved_kwargs
            kwargs["rows"] = (*kwargs.get("rows", ()), *extra)
        with tracer().start_as_current_span(
            "store.append",
            attributes={"casework.service": self.service, "casework.events": len(processing_event.events)},
        ):
            recordings = super()._record(processing_event)
        if recordings:
            for listener in self._recorded_listeners:
                listener(recordings)
        for committed in self._committed_listeners:
            committed(processing_event)
        return recordings

    def read_model_rows(self) -> dict[str, int]:
        """Rows of each read model kept beside the store (ADR 0024), for `GetStoreStats`."""
        return {}

    def on_recorded(self, listener: Callable[[Sequence[Recording[UUID]]], None]) -> None:
        """Call `listener(recordings)` after each commit that recorded events (requests and the
        inbox alike), in the thread that committed. The relay uses it to wake at once instead of
        polling the store, the edge to run calls waiting for a case to arrive (ADR 0026);
        listeners must be quick and must not raise."""
        self._recorded_listeners.append(listener)

    def on_committed(self, listener: Callable[[ProcessingEvent[UUID]], None]) -> None:
        """Call `listener(processing_event)` after every commit of events or read-model rows (an
        inbox unit may write rows and no events), in the thread that committed; quick, no raise."""
        self._committed_listeners.append(listener)


def short_first(
    with_snapshot: Callable[..., Any], events: EventStore, snapshot_after: int,
    aggregate_id: Any, version: int | None, projector_func: Any,
) -> Any:
    """The repository's replay, without asking for a snapshot when the aggregate is shorter than
    any snapshot interval: most are, and reading for a snapshot first cost a service a tenth of
    its inbox's rate (ADR 0034). A snapshot is only taken at a version that is a multiple of its
    interval, so an aggregate with fewer events than the smallest interval has none."""
    if version is None:
        stored = events.recorder.select_events(aggregate_id, limit=snapshot_after)
        if len(stored) < snapshot_after:
            aggregate = projector_func(None, map(events.mapper.to_domain_event, stored))
            if aggregate is None:
                raise AggregateNotFoundError(aggregate_id)
            return aggregate
    return with_snapshot(aggregate_id, version, projector_func)


def mutate_all(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event runtime-protocol assertion
    (`isinstance` against a typing.Protocol): half the cost of replaying a small aggregate,
    profiled. Our events are the library's own classes, which have `mutate`."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class Sql:
    """Plain SQL on the application's own datastore, in its dialect."""

    def __init__(self, app: ServiceApplication) -> None:
        self._datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self.is_sqlite = app.settings.casework_persistence == "sqlite"
        schema = getattr(self._datastore, "schema", "")
        self.prefix = f"{schema}." if schema and not self.is_sqlite else ""
        recorder: Any = app.recorder
        self.events_table = self.table(recorder.events_table_name)
        self.tracking_table = self.table(getattr(recorder, "tracking_table_name", "tracking"))

    @contextmanager
    def cursor(self, commit: bool) -> Iterator[Any]:
        with self._datastore.transaction(commit=commit) as cursor:
            yield cursor

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.cursor(commit=False) as c:
            c.execute(self.dialect(statement), params)
            rows = c.fetchall()
            # PostgreSQL's rows come as dicts (the library's row factory): two columns of one name
            # would silently become one there. Said at once, on both stores, so code tried on
            # SQLite does not fail on PostgreSQL.
            described = c.sqlite_cursor.description if self.is_sqlite else c.description  # the library wraps SQLite's
            names = [column[0] for column in described or ()]
            if len(set(names)) != len(names):
                raise ValueError(f"columns need distinct names (use AS): {names}")
            if self.is_sqlite:
                return [tuple(row) for row in rows]
            return [tuple(row.values()) for row in rows]

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.cursor(commit=True) as c:
            if not self.is_sqlite and statement.lstrip().upper().startswith("CREATE "):
                # Replicas starting together on PostgreSQL: CREATE ... IF NOT EXISTS is not safe
                # against a concurrent identical CREATE (a unique violation in the catalog), so
                # the creators take turns, holding a lock named by the statement until commit.
                c.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (statement,))
            c.execute(self.dialect(statement), params)

    def dialect(self, statement: str) -> str:
        """`?` placeholders as the store's driver wants them."""
        return statement if self.is_sqlite else statement.replace("?", "%s")

    def table(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def has_table(self, name: str) -> bool:
        if self.is_sqlite:
            return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]))
        return bool(self.query("SELECT to_regclass(?) IS NOT NULL", [self.table(name)])[0][0])

    def event_counts(self) -> dict[str, int]:
        """Stored events by topic — for operations; no case content."""
        rows = self.query(f"SELECT topic, COUNT(*) FROM {self.events_table} GROUP BY topic")
        return {str(topic): int(count) for topic, count in rows}
