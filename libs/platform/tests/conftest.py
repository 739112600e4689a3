from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from caseplatform.settings import PlatformSettings

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/casework_kernel_tests"
TEST_SCHEMAS = ("counter", "downstream", "source")


def _fresh_postgres() -> str:
    """An empty test database on the machine's PostgreSQL (created once, schemas dropped per test)."""
    admin = POSTGRES_DSN.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'casework_kernel_tests'"
        ).fetchone()
        if not exists:
            connection.execute("CREATE DATABASE casework_kernel_tests")
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as connection:
        for schema in TEST_SCHEMAS:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return POSTGRES_DSN


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformSettings]:
    """The same kernel tests on the embedded store and on PostgreSQL."""
    if request.param == "sqlite":
        yield PlatformSettings(casework_data_dir=tmp_path)
    else:
        yield PlatformSettings(
            casework_data_dir=tmp_path, casework_persistence="postgres", casework_postgres_dsn=_fresh_postgres()
        )
