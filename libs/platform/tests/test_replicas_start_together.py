"""Replicas of a service starting together on a new PostgreSQL database (a first `helm install`
starts every replica at once) each create the store's schema and tables. PostgreSQL's
`CREATE ... IF NOT EXISTS` is not safe against a concurrent identical statement: the loser gets a
unique violation in the catalog (`pg_type_typname_nsp_index`) and the process died at start.
They take turns now (`caseplatform.postgres_factory`, `store.ensure_schema`)."""

from __future__ import annotations

import base64
import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from caseplatform.devstack import postgres
from caseplatform.testing import postgres_or_skip

pytestmark = pytest.mark.postgres

REPLICAS = 4
ROUNDS = 3


def _open_store(dsn: str, data_dir: str, ready: Barrier, outcome: Any) -> None:
    from caseplatform.settings import PlatformSettings
    from caseplatform.store import ServiceApplication

    settings = PlatformSettings(casework_persistence="postgres", casework_postgres_dsn=dsn,
                                casework_data_dir=Path(data_dir))
    ready.wait(60)  # every replica imported and ready: they start as close together as they can
    try:
        ServiceApplication("intake", settings, {"CIPHER_KEY": base64.b64encode(b"k" * 32).decode()}).close()
        outcome.put("started")
    except Exception as exc:  # noqa: BLE001 - the test reports what a replica died of
        outcome.put(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


def test_replicas_starting_together_on_a_new_database_all_start(tmp_path: Path) -> None:
    postgres_or_skip()
    server = postgres.shared_server()
    spawn = multiprocessing.get_context("spawn")
    for round_ in range(ROUNDS):
        dsn = server.create_database()
        try:
            ready, outcome = spawn.Barrier(REPLICAS), spawn.Queue()
            replicas = [spawn.Process(target=_open_store, args=(dsn, str(tmp_path / f"{round_}-{i}"), ready, outcome))
                        for i in range(REPLICAS)]
            for replica in replicas:
                replica.start()
            for replica in replicas:
                replica.join(120)
            outcomes = [outcome.get(timeout=10) for _ in replicas]
        finally:
            server.drop_database(dsn)
        assert outcomes == ["started"] * REPLICAS, f"round {round_}: {outcomes}"
