"""The database functions through the real HTTP API, on SQLite (``default``: the stack's
data root) and on PostgreSQL (``pg``, configured in conftest): rows inserted and read back
with bound parameters, writes refused by the database, exports read back with pandas and
pyarrow, and bad input refused at submit.

Each run's tables carry a random suffix; the PostgreSQL ones are dropped afterwards."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_URL
from tests.integration.helpers import submit, wait_until

SUBMIT = "/api/high-scale-tasks/submit"
DATABASES = ["default", "pg"]
RUN = os.urandom(4).hex()
ROWS = [
    {"id": 1, "city": "Lima", "visitors": 120.5, "open": True, "note": "first"},
    {"id": 2, "city": "Oslo", "visitors": 80.0, "open": False, "note": None},
    {"id": 3, "city": "Kyiv", "visitors": 95.25, "open": True, "note": "it's; quoted"},
    {"id": 4, "city": "Pune", "visitors": 0.0, "open": False, "note": "last"},
]
COLUMNS = list(ROWS[0])
WRITES = [
    "DELETE FROM {table}",
    "UPDATE {table} SET city = 'x'",
    "DROP TABLE {table}",
    "SELECT 1; DELETE FROM {table}",
    "SELECT E'\\''; DELETE FROM {table}; --'",
]

_created: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _drop_postgres_tables() -> Iterator[None]:
    yield
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        for table in _created:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
    engine.dispose()


def _table(stem: str) -> str:
    name = f"it_{stem}_{RUN}"
    _created.append(name)
    return name


def _finished(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    task = submit(api, function_name, kwargs=kwargs, retry_count=0)
    done: dict[str, Any] = wait_until(api, task["task_id"])
    return done


def _run(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    done = _finished(api, function_name, **kwargs)
    assert done["status"] == "completed", done
    result: dict[str, Any] = done["result"]
    return result


def _all_rows(api: Any, table: str, database: str) -> list[list[Any]]:
    found = _run(
        api, "complex_query", query=f"SELECT id, city FROM {table} ORDER BY id", database=database
    )
    rows: list[list[Any]] = found["rows"]
    return rows


@pytest.mark.parametrize("database", DATABASES)
def test_inserted_rows_come_back_from_a_query_with_bound_parameters(api, database):
    table = _table(f"cities_{database}")
    inserted = _finished(
        api, "bulk_insert", table=table, data=ROWS, batch_size=3, database=database
    )
    assert inserted["status"] == "completed", inserted
    assert inserted["result"] == {"table": table, "inserted": 4, "batches": 2, "database": database}
    assert inserted["progress"]["fraction"] == 1.0 and inserted["progress"]["sent"] == 4

    found = _run(
        api,
        "complex_query",
        query=f"SELECT id, city, visitors, note FROM {table} "
        "WHERE visitors >= :least AND city <> :skip ORDER BY id",
        parameters={"least": 90, "skip": "Kyiv'; DROP TABLE x; --"},
        database=database,
    )
    assert found == {
        "columns": ["id", "city", "visitors", "note"],
        "rows": [[1, "Lima", 120.5, "first"], [3, "Kyiv", 95.25, "it's; quoted"]],
        "row_count": 2,
        "truncated": False,
    }


@pytest.mark.parametrize("database", DATABASES)
def test_a_committed_insert_task_is_recorded_as_applied_beside_its_rows(api, database):
    table = _table(f"applied_{database}")
    done = _finished(api, "bulk_insert", table=table, data=ROWS, database=database)
    assert done["status"] == "completed", done
    found = _run(
        api,
        "complex_query",
        query="SELECT result FROM vokaflow_applied_tasks WHERE task_id = :id",
        parameters={"id": done["task_id"]},
        database=database,
    )
    assert [json.loads(cell) for [cell] in found["rows"]] == [done["result"]]


@pytest.mark.parametrize("database", DATABASES)
def test_a_second_insert_appends_and_max_rows_truncates(api, database):
    table = _table(f"append_{database}")
    _run(api, "bulk_insert", table=table, data=ROWS, database=database)
    _run(api, "bulk_insert", table=table, data=[{"id": 5, "city": "Baku"}], database=database)
    found = _run(
        api,
        "complex_query",
        query=f"SELECT id FROM {table} ORDER BY id",
        max_rows=2,
        database=database,
    )
    assert found["rows"] == [[1], [2]] and found["truncated"] is True
    assert _all_rows(api, table, database)[-1] == [5, "Baku"]


@pytest.mark.parametrize("database", DATABASES)
def test_an_unknown_column_for_an_existing_table_fails_the_task(api, database):
    table = _table(f"unknown_{database}")
    _run(api, "bulk_insert", table=table, data=ROWS, database=database)
    done = _finished(api, "bulk_insert", table=table, data=[{"id": 9, "age": 3}], database=database)
    assert done["status"] == "failed"
    assert "has no column 'age'" in done["error"]["message"]
    assert len(_all_rows(api, table, database)) == len(ROWS)


@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("write", WRITES)
def test_a_write_statement_is_refused_and_changes_no_row(api, database, write):
    table = _table(f"readonly_{database}_{WRITES.index(write)}")
    _run(api, "bulk_insert", table=table, data=ROWS, database=database)
    before = _all_rows(api, table, database)

    done = _finished(api, "complex_query", query=write.format(table=table), database=database)
    assert done["status"] == "failed", done
    assert "read-only" in done["error"]["message"]
    assert (
        _all_rows(api, table, database)
        == before
        == [[1, "Lima"], [2, "Oslo"], [3, "Kyiv"], [4, "Pune"]]
    )


@pytest.mark.parametrize("database", DATABASES)
def test_an_exported_csv_reads_back_as_the_inserted_rows(api, database, data_root):
    import pandas as pd

    table = _table(f"csv_{database}")
    _run(api, "bulk_insert", table=table, data=ROWS, database=database)
    written = _run(
        api, "export_table", table=table, output_path=f"db-it/{table}.csv", database=database
    )
    path = data_root / "db-it" / f"{table}.csv"
    assert written == {
        "path": str(path.resolve()),
        "rows": len(ROWS),
        "format": "csv",
        "bytes": path.stat().st_size,
    }
    pd.testing.assert_frame_equal(pd.read_csv(path), pd.DataFrame(ROWS), check_dtype=False)


@pytest.mark.parametrize("database", DATABASES)
def test_an_exported_parquet_file_reads_back_with_the_column_types(api, database, data_root):
    import pyarrow.parquet as pq

    table = _table(f"parquet_{database}")
    _run(api, "bulk_insert", table=table, data=ROWS, batch_size=1, database=database)
    written = _run(
        api,
        "export_table",
        table=table,
        output_path=f"db-it/{table}.parquet",
        format="parquet",
        database=database,
    )
    assert written["rows"] == len(ROWS) and written["format"] == "parquet"
    read = pq.read_table(Path(written["path"]))
    assert read.column_names == COLUMNS
    assert [str(field.type) for field in read.schema] == [
        "int64",
        "string",
        "double",
        "bool",
        "string",
    ]
    assert sorted(read.to_pylist(), key=lambda row: row["id"]) == ROWS


def test_exporting_a_missing_table_fails_the_task(api):
    done = _finished(api, "export_table", table=f"ghost_{RUN}", output_path="db-it/ghost.csv")
    assert done["status"] == "failed" and "no table" in done["error"]["message"]


def test_a_result_larger_than_the_limit_is_written_to_the_data_root(api, data_root):
    table = _table("large")
    for start in range(0, 9_000, 3_000):  # a submit's arguments are capped at 256 KB
        rows = [{"id": i, "note": "x" * 40} for i in range(start, start + 3_000)]
        _run(api, "bulk_insert", table=table, data=rows, batch_size=3_000)
    pointer = _run(api, "complex_query", query=f"SELECT id, note FROM {table} ORDER BY id")
    assert pointer["stored_because"] == "too_large" and pointer["size_bytes"] > 256 * 1024
    stored = Path(pointer["result_path"])
    assert stored.parent == data_root.resolve() / "results"
    assert json.loads(stored.read_text())["row_count"] == 9_000


def test_a_query_as_a_postgres_superuser_is_refused_before_it_runs(api):
    done = _finished(
        api, "complex_query", query="SELECT pg_read_file('/etc/hostname')", database="pg_superuser"
    )
    assert done["status"] == "failed"
    assert "superuser" in done["error"]["message"], done["error"]
