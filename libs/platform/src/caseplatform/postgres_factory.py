"""The library's PostgreSQL persistence, its pool's connections bounded against a silent peer
(`postgres_connections`). Named by `persistence_env` as `PERSISTENCE_MODULE`."""

from __future__ import annotations

import os

from eventsourcing import postgres as library
from eventsourcing.utils import Environment, EnvType

from caseplatform.postgres_connections import dead_peer_options

DEAD_PEER_S = "POSTGRES_DEAD_PEER_S"


class Factory(library.PostgresFactory):
    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The pool opens on first use, so every connection it makes has these.
        seconds = int(self.env.get(DEAD_PEER_S) or 0)
        self.datastore.pool.kwargs.update(dead_peer_options(seconds, os.environ.get("PGOPTIONS")))
        self.datastore.pool.kwargs["connect_timeout"] = int(float(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or 5))
