"""A store read-only for a moment must not leave connections that fail every write after it
(SQLite keeps a connection it opened read-only that way for good)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from caseplatform.settings import PlatformSettings
from caseplatform.testing import needs

from .fakes import Counter, CounterApp

META = {"actor": {"agency": "landlord", "role": "CHO", "user": "cho-7"}}


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """The store's files and folder unwritable, for root too (immutable flag)."""
    targets = [*map(str, folder.glob("events.sqlite*")), str(folder)]
    if os.geteuid() == 0:
        needs(
            shutil.which("chattr"),
            "running as root without chattr (Debian package 'e2fsprogs'): store not made unwritable",
        )
        subprocess.run(["chattr", "+i", *targets], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *targets], check=True)
    else:
        modes = {t: os.stat(t).st_mode for t in targets}
        for t in targets:
            os.chmod(t, 0o555 if os.path.isdir(t) else 0o444)
        try:
            yield
        finally:
            for t, mode in modes.items():
                os.chmod(t, mode)


@pytest.mark.chattr
def test_connections_opened_while_the_store_was_read_only_do_not_outlive_it(tmp_path: Path) -> None:
    app = CounterApp("source", PlatformSettings(casework_data_dir=tmp_path))
    app.save(Counter(case_id="case-before", meta=META))
    pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
    keeper = sqlite3.connect(pool.db_name)  # as a running service's other connections do, keeps
    keeper.execute("SELECT 1 FROM sqlite_master").fetchall()  # the WAL files in place meanwhile
    for connection in list(pool._pool):  # idle connections closed: the next use opens new ones
        connection.close()
    pool._pool.clear()
    with unwritable(Path(pool.db_name).parent):
        assert app.repository.get(Counter.create_id("case-before")).case_id == "case-before"  # reads work
        with pytest.raises(Exception, match="readonly|read-only|unable to open"):
            app.save(Counter(case_id="case-during", meta=META))
    for i in range(5):  # every write after it succeeds, whichever pooled connection it is given
        app.save(Counter(case_id=f"case-after-{i}", meta=META))
    assert app.repository.get(Counter.create_id("case-after-4")).case_id == "case-after-4"
    keeper.close()
