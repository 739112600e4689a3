from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from caseplatform.testing import postgres_or_skip

TEST_SCHEMAS = ("counter", "downstream", "source")
_database: list[str] = []


def _fresh_postgres() -> str:
    """An empty database of this run's own (`casework_kernel_<random>`, so parallel runs never
    meet) on the server the test run uses; the test schemas are dropped before each test."""
    server = postgres_or_skip()
    if not _database:
        _database.append(server.create_database("casework_kernel"))
    with psycopg.connect(_database[0], autocommit=True) as connection:
        for schema in TEST_SCHEMAS:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return _database[0]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformSettings]:
    """The same kernel tests on the embedded store and on PostgreSQL."""
    if request.param == "sqlite":
        yield PlatformSettings(casework_data_dir=tmp_path)
    else:
        yield PlatformSettings(
            casework_data_dir=tmp_path, casework_persistence="postgres", casework_postgres_dsn=_fresh_postgres()
        )



@pytest.fixture(autouse=True)
def _applications_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every application a test makes is closed after it. On PostgreSQL each holds a pool of
    connections that outlived the test (31 after these tests, for the whole session), and the
    system tests' stacks then met the server's connection limit."""
    made: list[ServiceApplication] = []
    construct = ServiceApplication.__init__

    def tracked(self: ServiceApplication, *args: object, **kwargs: object) -> None:
        construct(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(ServiceApplication, "__init__", tracked)
    yield
    for app in made:
        app.close()

