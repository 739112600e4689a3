"""The library's PostgreSQL persistence, its pool's connections bounded against a silent peer
(`postgres_connections`), its tables created one process at a time. Named by `persistence_env`
as `PERSISTENCE_MODULE`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing import postgres as library
from eventsourcing.utils import Environment, EnvType

from caseplatform.postgres_connections import dead_peer_options

DEAD_PEER_S = "POSTGRES_DEAD_PEER_S"
CREATING = "casework:create-tables:"  # + schema: the advisory lock creators take turns on


class Factory(library.PostgresFactory):
    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The pool opens on first use, so every connection it makes has these.
        seconds = int(self.env.get(DEAD_PEER_S) or 0)
        self.datastore.pool.kwargs.update(dead_peer_options(seconds, os.environ.get("PGOPTIONS")))
        self.datastore.pool.kwargs["connect_timeout"] = int(float(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or 5))

    # Each recorder creates its tables (and records its migration) as it is made.
    def aggregate_recorder(self, purpose: str = "events") -> Any:
        with self._taking_turns():
            return super().aggregate_recorder(purpose)

    def application_recorder(self) -> Any:
        with self._taking_turns():
            return super().application_recorder()

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> Any:
        with self._taking_turns():
            return super().tracking_recorder(tracking_recorder_class)

    def process_recorder(self) -> Any:
        with self._taking_turns():
            return super().process_recorder()

    @contextmanager
    def _taking_turns(self) -> Iterator[None]:
        """Replicas starting together on a new database (a first install starts them all at
        once) would each run the library's `CREATE ... IF NOT EXISTS`, which PostgreSQL does not
        make safe against a concurrent identical statement: the loser got a unique violation in
        the catalog and died. A session advisory lock, named by the schema, on a connection of
        its own (the library's statements use the pool's) makes them take turns; the second
        finds the tables made."""
        if not self.env_create_table():
            yield
            return
        with psycopg.connect(autocommit=True, **self.datastore.pool.kwargs) as connection:
            connection.execute("SELECT pg_advisory_lock(hashtext(%s))", [CREATING + self.datastore.schema])
            yield  # closing the connection lets go of the lock
