"""`Sql.query` answers the same on both stores: tuples in the order the columns were asked for."""

from __future__ import annotations

import pytest

from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication, Sql


def test_rows_are_tuples_in_column_order(settings: PlatformSettings) -> None:
    sql = Sql(ServiceApplication("source", settings))
    assert sql.query("SELECT 2 AS b, 1 AS a, ? AS c", ["x"]) == [(2, 1, "x")]


def test_two_columns_of_one_name_are_refused_on_either_store(settings: PlatformSettings) -> None:
    """PostgreSQL's rows are dicts: the second `id` would overwrite the first and the row come
    back a column short, unpacked wrongly far from here."""
    sql = Sql(ServiceApplication("source", settings))
    with pytest.raises(ValueError, match=r"distinct names \(use AS\): \['id', 'id'\]"):
        sql.query("SELECT 1 AS id, 2 AS id")
