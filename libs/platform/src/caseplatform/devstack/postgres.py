"""A PostgreSQL server for tests and the dev stack, found or started.

In order: the server named by `CASEWORK_TEST_POSTGRES_DSN` (or `CASEWORK_POSTGRES_DSN` when set),
else one on 127.0.0.1:5432, else a throwaway cluster made with the machine's own PostgreSQL
binaries (`initdb`, `pg_ctl` from /usr/lib/postgresql/*/bin or the PATH), deleted afterwards.
Each run then works in databases of its own (`casework_test_<random>`), so parallel runs and
earlier leftovers never meet.

`python -m caseplatform.devstack.postgres` says which server a test run would use.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from caseplatform.devstack.ports import free_ports

LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


class PostgresUnavailable(RuntimeError):
    """No server was configured, none answered locally, and none could be started."""


@dataclass
class PostgresServer:
    admin_dsn: str  # a database on the server where this run may CREATE DATABASE
    origin: str  # "configured", "local" or "throwaway"
    _cluster: Path | None = None
    _databases: list[str] = field(default_factory=list)
    _start_options: str = ""  # a throwaway cluster's `pg_ctl -o`

    def create_database(self, prefix: str = "casework_test") -> str:
        """A new empty database; returns its DSN. Dropped again by `drop_databases`."""
        import psycopg
        from psycopg import sql

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._databases.append(name)
        return with_database(self.admin_dsn, name)

    def drop_database(self, dsn: str) -> None:
        import psycopg
        from psycopg import sql

        name = urlparse(dsn).path.lstrip("/")
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=10) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self._databases:
            self._databases.remove(name)

    def stop(self) -> None:
        for name in list(self._databases):
            # Best effort at exit: the names are unique, so a leftover never meets a later run.
            with contextlib.suppress(Exception):
                self.drop_database(with_database(self.admin_dsn, name))
        if self._cluster is not None:
            _run_as_owner(["pg_ctl", "-D", str(self._cluster / "data"), "-m", "immediate", "-w", "stop"], self._cluster)
            shutil.rmtree(self._cluster, ignore_errors=True)
            self._cluster = None

    @contextmanager
    def crashed(self) -> Iterator[None]:
        """The server down as after a crash (`pg_ctl stop -m immediate`: no goodbye to clients),
        started again on leaving (crash recovery, the same port). Throwaway clusters only."""
        if self._cluster is None:
            raise RuntimeError("only a throwaway cluster may be stopped by a test")
        data, log = str(self._cluster / "data"), str(self._cluster / "server.log")
        _run_as_owner(["pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], self._cluster)
        try:
            yield
        finally:
            _run_as_owner(["pg_ctl", "-D", data, "-o", self._start_options, "-l", log, "-w", "start"], self._cluster)


def with_database(dsn: str, database: str) -> str:
    parts = urlparse(dsn)
    return urlunparse(parts._replace(path=f"/{database}"))


def answers(dsn: str, timeout_s: int = 3) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=timeout_s) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def find_or_start(env: dict[str, str] | None = None) -> PostgresServer:
    """The server this run uses (see the module docstring), or `PostgresUnavailable` saying why."""
    env = dict(os.environ if env is None else env)
    configured = env.get("CASEWORK_TEST_POSTGRES_DSN") or env.get("CASEWORK_POSTGRES_DSN")
    if configured:
        if not answers(configured, 10):
            raise PostgresUnavailable(f"the configured PostgreSQL server ({_redact(configured)}) does not answer")
        return PostgresServer(configured, "configured")
    if answers(LOCAL_DSN):
        return PostgresServer(LOCAL_DSN, "local")
    binaries = _binaries()
    if binaries is None:
        raise PostgresUnavailable(
            "no server configured (CASEWORK_TEST_POSTGRES_DSN), none on 127.0.0.1:5432, "
            "and no PostgreSQL binaries (initdb, pg_ctl) to start one"
        )
    return _throwaway_cluster(binaries)


def throwaway_server() -> PostgresServer:
    """A cluster of the caller's own (a test that stops its server must not stop a shared one)."""
    binaries = _binaries()
    if binaries is None:
        raise PostgresUnavailable("no PostgreSQL binaries (initdb, pg_ctl) to start a cluster")
    return _throwaway_cluster(binaries)


def _binaries() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _throwaway_cluster(binaries: Path) -> PostgresServer:
    """initdb + pg_ctl start on a free loopback port, trust authentication, no fsync (tests only).
    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user."""
    root = Path(tempfile.mkdtemp(prefix="casework-pg-"))
    port = free_ports(1)[0]
    env_path = f"{binaries}:{os.environ.get('PATH', '')}"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    try:
        _run_as_owner(["initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"], root, env_path)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        _run_as_owner(["pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"], root, env_path)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"could not start a throwaway cluster: {exc.stderr or exc}") from exc
    return PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", "throwaway", root, _start_options=options)


def _run_as_owner(argv: list[str], root: Path, path: str | None = None) -> None:
    path = path or f"{_binaries()}:{os.environ.get('PATH', '')}"
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*prefix, "env", f"PATH={path}", *argv], check=True, capture_output=True, text=True, timeout=120, cwd=root
    )


def _redact(dsn: str) -> str:
    parts = urlparse(dsn)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunparse(parts)


_shared: PostgresServer | PostgresUnavailable | None = None


def shared_server() -> PostgresServer:
    """One server per process (tests call this from several conftests); stopped at exit."""
    global _shared
    if _shared is None:
        try:
            _shared = find_or_start()
            atexit.register(_shared.stop)
        except PostgresUnavailable as exc:
            _shared = exc
    if isinstance(_shared, PostgresUnavailable):
        raise _shared
    return _shared


def required() -> bool:
    """Must the PostgreSQL pass run? In CI (CI=true) or when CASEWORK_REQUIRE_POSTGRES=1."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CASEWORK_REQUIRE_POSTGRES") == "1"


def main() -> None:
    try:
        server = shared_server()
    except PostgresUnavailable as exc:
        print(f"PostgreSQL: not available: {exc}")
        raise SystemExit(1) from None
    print(f"PostgreSQL: {server.origin} server {_redact(server.admin_dsn)}")


if __name__ == "__main__":
    main()
