"""SQLite connections that a moment of read-only storage would otherwise spoil for good.

SQLite opens a database file read-only, silently, when it cannot open it for writing (a full or
remounted volume, an immutable flag, a permissions slip), and such a connection stays read-only
after the file is writable again: every write through it fails with "attempt to write a
readonly database" for as long as the pool keeps it. The fault matrix found it: after a store
was read-only for three seconds, reads that record an audit row kept failing. Here a connection
opened while the file is not writable is used once and then closed, and a connection whose write
fails as read-only is closed rather than put back.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SQLITE_READONLY = 8  # the primary result code (extended codes carry it in the low byte)


def heal_read_only_connections(datastore: Any) -> None:
    """Wrap an `eventsourcing.sqlite.SQLiteDatastore`'s connection pool (in place)."""
    pool = datastore.pool
    if pool.is_sqlite_memory_mode:
        return
    path = pool.db_name.removeprefix("file:").split("?", 1)[0]
    create = pool._create_connection  # the library's factory (eventsourcing pinned in pyproject)

    def create_connection() -> Any:
        connection = create()
        if os.path.exists(path) and not os.access(path, os.W_OK):
            connection._closing.set()  # read-only for good: used once, closed when returned
        return connection

    pool._create_connection = create_connection
    get_connection = datastore.get_connection

    @contextmanager
    def checked_connection(*, commit: bool) -> Iterator[Any]:
        with get_connection(commit=commit) as connection:
            try:
                yield connection
            except Exception as exc:
                if is_read_only_error(exc):
                    connection.close()  # not put back: the next request opens a fresh one
                raise

    datastore.get_connection = checked_connection


def is_read_only_error(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == SQLITE_READONLY:
            return True
        exc = exc.__cause__ or exc.__context__
    return False
