"""How every PostgreSQL connection of a service gives up on a peer that stopped answering.

A connection whose peer vanished without a word (a network cut, a failed-over or powered-off
server, a replica's node lost) is not closed by anyone: without these options a query on it waits
until the kernel gives up (~15 minutes), and the server keeps the session, with its locks, for
its own keepalive default (2 hours). For the relay lease (a session advisory lock) that is a
service whose events are published by no one for hours: the stalled holder cannot check its
lease and the standby cannot take it. So both ends are told the same bound, `seconds`:

* the client (libpq): TCP keepalives on an idle connection, and `tcp_user_timeout` on data sent
  and not acknowledged: a query on a dead connection fails with an OperationalError instead of
  hanging, and the pool, the lease and the listener connect again;
* the server, for this session (`options`): the same keepalives and user timeout, so it ends a
  vanished client's session and releases what it held (the lease, an insert's table lock).

A server that is slow but there (a long query, a paused process on a live host) still answers
TCP, so it is waited for as before. Needs PostgreSQL 12 or later (`tcp_user_timeout`); through
PgBouncer, add `options` to its `ignore_startup_parameters`, or turn this off with 0.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from psycopg.conninfo import conninfo_to_dict

if TYPE_CHECKING:
    from caseplatform.settings import PlatformSettings


def dead_peer_options(seconds: int, own_options: str | None = None) -> dict[str, Any]:
    """libpq keyword arguments giving up on a silent peer after about `seconds` (0: never).
    `own_options`, the server options the connection had already (the DSN's, or PGOPTIONS),
    are kept: libpq's `options` argument replaces them rather than adding to them."""
    if seconds <= 0:
        return {}
    idle = max(1, seconds // 3)
    interval = max(1, seconds // 6)
    count = max(1, (seconds - idle) // interval)
    user_timeout_ms = seconds * 1000
    server = (f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} "
              f"-c tcp_keepalives_count={count} -c tcp_user_timeout={user_timeout_ms}")
    return {"keepalives": 1, "keepalives_idle": idle, "keepalives_interval": interval,
            "keepalives_count": count, "tcp_user_timeout": user_timeout_ms,
            "options": f"{own_options} {server}" if own_options else server}


def connect_options(dsn: str, dead_peer_s: int, connect_timeout_s: int) -> dict[str, Any]:
    """Keyword arguments for `psycopg.connect(dsn, **…)`."""
    own = conninfo_to_dict(dsn).get("options") or os.environ.get("PGOPTIONS")
    return {**dead_peer_options(dead_peer_s, own), "connect_timeout": connect_timeout_s}


def service_connect_options(settings: PlatformSettings) -> dict[str, Any]:
    """`connect_options` for the service's own DSN and settings."""
    return connect_options(settings.casework_postgres_dsn, settings.casework_postgres_dead_peer_s,
                           settings.casework_postgres_connect_timeout_s)
