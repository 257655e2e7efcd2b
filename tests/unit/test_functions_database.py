"""The database functions' pure helpers, and the functions themselves on SQLite in tmp_path."""

from __future__ import annotations

import base64
import math
import re
import sqlite3
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from vokaflow.functions import registry
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.database import (
    ROW_VALUE_BYTES,
    chunked,
    column_kinds,
    column_names,
    csv_cell,
    is_identifier,
    json_safe,
    measured,
    role_fixes,
    single_statement,
    sqlite_authorizer,
    sqlite_row_cost,
    take_rows,
)

ROWS = [
    {"id": 1, "name": "ada", "score": 9.5, "active": True},
    {"id": 2, "name": "grace", "score": 7, "active": False},
    {"id": 3, "name": None, "score": None, "active": True},
]


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("VOKAFLOW_DATA_ROOTS", str(root))
    monkeypatch.setenv("VOKAFLOW_DATABASES", '{"other": "sqlite:///' + str(root / "o.db") + '"}')
    monkeypatch.delenv("VOKAFLOW_DATABASE_URL", raising=False)
    return root


def run(name: str, **kwargs: Any) -> Any:
    """As a worker does: validate, then call with the converted values."""
    entry = registry.get(name)
    args, checked = entry.validated([], kwargs)
    return entry.invoke(*args, **checked)


def refused_field(name: str, **kwargs: Any) -> str:
    with pytest.raises(ArgumentError) as refused:
        registry.get(name).validated([], kwargs)
    return refused.value.field


# --- pure helpers -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t", "_t", "Table_2", "a" * 63])
def test_plain_names_are_identifiers(name: str) -> None:
    assert is_identifier(name)


@pytest.mark.parametrize("name", ["", "2t", "t; drop table x", "t-x", "a b", '"t"', "a" * 64, "é"])
def test_anything_else_is_not_an_identifier(name: str) -> None:
    assert not is_identifier(name)


def test_column_kinds_follow_the_values_in_first_seen_order() -> None:
    kinds = column_kinds([*ROWS, {"extra": "x", "id": 4}])
    assert kinds == {
        "id": "integer",
        "name": "text",
        "score": "float",  # 9.5 and 7
        "active": "boolean",
        "extra": "text",
    }


def test_a_column_of_nulls_only_is_text() -> None:
    assert column_kinds([{"a": None}, {"a": None}]) == {"a": "text"}


def test_booleans_are_not_counted_as_integers() -> None:
    assert column_kinds([{"a": True}, {"a": False}]) == {"a": "boolean"}
    with pytest.raises(ValueError, match="mixes boolean and integer"):
        column_kinds([{"a": True}, {"a": 1}])


def test_text_mixed_with_numbers_is_refused() -> None:
    with pytest.raises(ValueError, match="column 'a' mixes"):
        column_kinds([{"a": "x"}, {"a": 1.5}])


def test_column_names_are_every_key_once_in_order() -> None:
    assert column_names([{"b": 1}, {"a": 1, "b": 2}, {"c": 3}]) == ["b", "a", "c"]


def test_json_safe_turns_database_values_into_json() -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    key = uuid.UUID(int=1)
    assert json_safe(moment) == "2024-05-01T12:30:00+00:00"
    assert json_safe(date(2024, 5, 1)) == "2024-05-01"
    assert json_safe(Decimal("1.25")) == 1.25
    assert json_safe(b"\x00\xff") == base64.b64encode(b"\x00\xff").decode()
    assert json_safe(timedelta(minutes=2)) == 120.0
    assert json_safe(key) == str(key)
    assert json_safe(math.nan) is None
    assert json_safe({"at": [moment, Decimal("2")]}) == {"at": ["2024-05-01T12:30:00+00:00", 2.0]}
    assert json_safe(True) is True and json_safe(7) == 7 and json_safe(None) is None


def test_csv_cells_keep_decimals_exact_and_nulls_empty() -> None:
    assert csv_cell(Decimal("0.1000000000000000000001")) == "0.1000000000000000000001"
    assert csv_cell(None) == ""
    assert csv_cell(date(2024, 1, 2)) == "2024-01-02"


@pytest.mark.parametrize(
    ("query", "statement"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT 1;  ", "SELECT 1"),
        ("SELECT 1; -- done\n", "SELECT 1"),
        ("SELECT ';' AS a", "SELECT ';' AS a"),
        ("SELECT 'it''s; fine'", "SELECT 'it''s; fine'"),
        ('SELECT 1 AS "a;b"', 'SELECT 1 AS "a;b"'),
        ("SELECT $$;$$, $tag$ ; $tag$", "SELECT $$;$$, $tag$ ; $tag$"),
        ("SELECT 1 /* ; /* nested ; */ */", "SELECT 1 /* ; /* nested ; */ */"),
    ],
)
def test_one_statement_passes(query: str, statement: str) -> None:
    assert single_statement(query) == statement


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1; DELETE FROM t",
        "SELECT 1;DELETE FROM t;",
        "SELECT 1; /* x */ COMMIT",
        "SELECT E'\\''; DELETE FROM t; --'",  # a backslash escape in PostgreSQL's E'' string
    ],
)
def test_several_statements_are_refused(query: str) -> None:
    with pytest.raises(ValueError, match="read-only and runs one statement"):
        single_statement(query)


@pytest.mark.parametrize("query", ["", " ; ", "-- nothing"])
def test_an_empty_query_is_refused(query: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        single_statement(query)


def test_the_sqlite_authorizer_refuses_attach_so_no_file_is_created(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "a.db")
    connection.execute("CREATE TABLE t (a)")
    connection.set_authorizer(sqlite_authorizer)
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (0,)
    for statement in (
        f"ATTACH '{tmp_path / 'b.db'}' AS b",
        f"VACUUM INTO '{tmp_path / 'c.db'}'",
        "PRAGMA query_only = OFF",
        "INSERT INTO t VALUES (1)",
    ):
        with pytest.raises(sqlite3.DatabaseError):
            connection.execute(statement)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.db"]


def test_a_sqlite_row_costs_its_text_and_blobs_and_a_little_per_value() -> None:
    assert sqlite_row_cost(["abc", b"\x00\x01", None, 7, 1.5]) == 3 + 2 + 8 * 3 + 5 * 16
    assert sqlite_row_cost(["é"]) == 2 + ROW_VALUE_BYTES  # UTF-8 bytes, not characters


def test_take_rows_stops_at_the_count_and_fails_past_the_bytes() -> None:
    rows = [((n,), 10) for n in range(5)]
    assert take_rows(iter(rows), 3, 30) == [(0,), (1,), (2,)]
    with pytest.raises(
        ValueError, match=r"larger than VOKAFLOW_QUERY_MAX_BYTES \(29 bytes\) by row 3"
    ):
        take_rows(iter(rows), 3, 29)


def test_take_rows_reads_no_row_after_the_one_past_the_bound() -> None:
    def rows() -> Any:
        yield (1,), 10
        yield (2,), 100
        raise AssertionError("read past the bound")

    with pytest.raises(ValueError, match="by row 2"):
        take_rows(rows(), 10, 50)


def test_chunks_end_at_their_row_count_or_once_they_reach_the_bytes() -> None:
    rows = [((n,), cost) for n, cost in enumerate([10, 10, 10, 25, 10, 10])]
    assert [len(chunk) for chunk in chunked(rows, 2, 1000)] == [2, 2, 2]
    assert [len(chunk) for chunk in chunked(rows, 10, 30)] == [3, 2, 1]
    with pytest.raises(ValueError, match="row 4 is larger than VOKAFLOW_QUERY_MAX_BYTES"):
        list(chunked(rows, 10, 24))


def test_the_measuring_query_keeps_the_statement_apart_under_random_names() -> None:
    first, second = measured("SELECT 1 -- note", 2, 100, limit=5), measured("SELECT 1", 2, 100)
    assert "(\nSELECT 1 -- note\n)" in first and first.endswith("LIMIT 5")
    assert first.count("<= 100 THEN") == 2 and "LIMIT" not in second
    names = set(re.findall(r"vf_\w+", first))
    assert len(names) == 3 and not names & set(re.findall(r"vf_\w+", second))


def test_the_fixes_for_a_role_name_each_thing_it_may_do() -> None:
    assert role_fixes("app", False, [], []) == []
    assert role_fixes("app", True, ["pg_write_server_files"], ["pg_cancel_backend(integer)"]) == [
        "ALTER ROLE app NOREPLICATION;",
        "REVOKE pg_write_server_files FROM app;",
        "REVOKE EXECUTE ON FUNCTION pg_cancel_backend(integer) FROM PUBLIC, app;",
    ]


# --- arguments refused at submit --------------------------------------------------------


def test_bad_arguments_are_refused_naming_the_field(data_root: Path) -> None:
    good = {"table": "t", "data": [{"a": 1}]}
    assert refused_field("bulk_insert", **{**good, "table": "t; drop table x"}) == "kwargs.table"
    assert refused_field("bulk_insert", **{**good, "data": {"a": 1}}) == "kwargs.data"
    assert refused_field("bulk_insert", **{**good, "data": []}) == "kwargs.data"
    assert refused_field("bulk_insert", **{**good, "batch_size": 0}) == "kwargs.batch_size"
    assert refused_field("bulk_insert", **{**good, "database": "nope"}) == "kwargs.database"
    assert refused_field("bulk_insert", **{**good, "data": [{"a": [1]}]}).startswith("kwargs.data")
    assert refused_field("bulk_insert", **{**good, "data": [{"a": 2**63}]}).startswith(
        "kwargs.data"
    )
    assert refused_field("complex_query", query="SELECT 1", max_rows=0) == "kwargs.max_rows"
    assert refused_field("export_table", table="t", output_path="../x.csv") == (
        "kwargs.output_path"
    )
    assert refused_field("export_table", table="t", output_path="x", format="xml") == (
        "kwargs.format"
    )


def test_databases_named_in_the_settings_are_accepted(data_root: Path) -> None:
    entry = registry.get("complex_query")
    for name in ("default", "other"):
        entry.validated([], {"query": "SELECT 1", "database": name})


# --- the functions on SQLite ------------------------------------------------------------


def test_bulk_insert_creates_the_table_and_complex_query_reads_it_back(data_root: Path) -> None:
    inserted = run("bulk_insert", table="people", data=ROWS, batch_size=2)
    assert inserted == {"table": "people", "inserted": 3, "batches": 2, "database": "default"}
    assert (data_root / "vokaflow.db").is_file()
    found = run(
        "complex_query",
        query="SELECT id, name, score FROM people WHERE id >= :low ORDER BY id",
        parameters={"low": 2},
    )
    assert found == {
        "columns": ["id", "name", "score"],
        "rows": [[2, "grace", 7.0], [3, None, None]],
        "row_count": 2,
        "truncated": False,
    }


def test_bulk_insert_appends_to_an_existing_table_and_refuses_unknown_columns(
    data_root: Path,
) -> None:
    run("bulk_insert", table="people", data=ROWS, database="other")
    run("bulk_insert", table="people", data=[{"id": 4}], database="other")
    count = run("complex_query", query="SELECT count(*) FROM people", database="other")
    assert count["rows"] == [[4]]
    with pytest.raises(ValueError, match="has no column 'age'"):
        run("bulk_insert", table="people", data=[{"id": 5, "age": 3}], database="other")


def test_a_failed_batch_inserts_nothing_so_a_retry_adds_each_row_once(data_root: Path) -> None:
    data_root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(data_root / "vokaflow.db") as db:
        db.execute("CREATE TABLE ids (id INTEGER PRIMARY KEY, name TEXT)")
    rows = [{"id": n, "name": f"n{n}"} for n in range(1, 6)]
    clashing = [*rows, {"id": 3, "name": "again"}]  # the second batch breaks the key
    with pytest.raises(RuntimeError, match="batch 2 failed, so no row was inserted"):
        run("bulk_insert", table="ids", data=clashing, batch_size=4)
    assert run("complex_query", query="SELECT count(*) FROM ids")["rows"] == [[0]]

    run("bulk_insert", table="ids", data=rows, batch_size=4)  # the retry, with good data
    found = run("complex_query", query="SELECT id FROM ids ORDER BY id")
    assert found["rows"] == [[1], [2], [3], [4], [5]]


class _Task:
    def __init__(self, task_id: str, created_at: float = 1e9) -> None:
        self.task_id = task_id
        self.created_at = created_at
        self.data_scope = ""  # an admin's task


def as_task(monkeypatch: pytest.MonkeyPatch, task_id: str, created_at: float = 1e9) -> None:
    """Run the functions as if inside the task ``task_id`` (the worker sets this context)."""
    task = _Task(task_id, created_at)
    monkeypatch.setattr("vokaflow.functions.database.current_task", lambda: task)


def test_a_rerun_of_a_committed_task_inserts_nothing_and_returns_the_first_result(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_task(monkeypatch, "task-1")
    first = run("bulk_insert", table="people", data=ROWS)
    again = run("bulk_insert", table="people", data=ROWS)  # the worker was lost after commit
    assert "already_applied" not in first
    assert again == {**first, "already_applied": True}
    assert run("complex_query", query="SELECT count(*) FROM people")["rows"] == [[3]]

    as_task(monkeypatch, "task-2")
    run("bulk_insert", table="people", data=ROWS)
    assert run("complex_query", query="SELECT count(*) FROM people")["rows"] == [[6]]


def test_a_new_submission_under_a_reused_idempotency_key_inserts_again(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_task(monkeypatch, "task-1", created_at=1e9)
    run("bulk_insert", table="people", data=ROWS)
    # the key's record expired; the same key and body make the same task id, submitted anew
    as_task(monkeypatch, "task-1", created_at=1e9 + 90_000)
    again = run("bulk_insert", table="people", data=ROWS)
    assert "already_applied" not in again
    assert run("complex_query", query="SELECT count(*) FROM people")["rows"] == [[6]]


def test_one_task_may_make_several_different_inserts(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_task(monkeypatch, "task-1")
    run("bulk_insert", table="people", data=ROWS[:1])
    second = run("bulk_insert", table="people", data=ROWS[1:])
    assert "already_applied" not in second
    assert run("complex_query", query="SELECT count(*) FROM people")["rows"] == [[3]]


def test_the_service_s_own_tables_cannot_be_written(data_root: Path) -> None:
    field = refused_field("bulk_insert", table="vokaflow_applied_tasks", data=ROWS)
    assert field == "kwargs.table"


def test_a_failed_task_leaves_no_applied_mark_so_its_retry_inserts(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_task(monkeypatch, "task-1")
    data_root.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(data_root / "vokaflow.db") as db:
        db.execute("CREATE TABLE ids (id INTEGER PRIMARY KEY)")
    with pytest.raises(RuntimeError, match="no row was inserted"):
        run("bulk_insert", table="ids", data=[{"id": 1}, {"id": 1}])
    retried = run("bulk_insert", table="ids", data=[{"id": 1}, {"id": 2}])
    assert retried["inserted"] == 2 and "already_applied" not in retried


def test_a_concurrent_run_of_the_same_task_waits_and_returns_the_committed_result(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from vokaflow.functions.database import AppliedTasks, database_url

    as_task(monkeypatch, "task-1")
    run("bulk_insert", table="people", data=ROWS[:1], database="other")  # creates both tables
    engine = sa.create_engine(database_url("other"))
    ledger = AppliedTasks.open(engine, _Task("task-7"), "people", ROWS)  # type: ignore[arg-type]
    assert ledger is not None
    as_task(monkeypatch, "task-7")
    outcome: list[Any] = []
    with engine.begin() as first_run:  # the first run holds its transaction open...
        ledger.claim(first_run)
        first_run.execute(sa.text("INSERT INTO people (id) VALUES (70)"))
        ledger.record(first_run, {"table": "people", "inserted": 1})
        second_run = threading.Thread(
            target=lambda: outcome.append(
                run("bulk_insert", table="people", data=ROWS, database="other")
            )
        )
        second_run.start()  # ...while the same task starts again elsewhere
        time.sleep(0.3)
        assert second_run.is_alive()  # it waits for the first run's transaction
    second_run.join(30)
    assert outcome == [{"table": "people", "inserted": 1, "already_applied": True}]
    count = run("complex_query", query="SELECT count(*) FROM people", database="other")
    assert count["rows"] == [[2]]


def test_a_new_table_with_mixed_column_types_is_refused(data_root: Path) -> None:
    with pytest.raises(ValueError, match="mixes"):
        run("bulk_insert", table="mixed", data=[{"a": 1}, {"a": "x"}])


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM people",
        "UPDATE people SET name = 'x'",
        "DROP TABLE people",
        "INSERT INTO people (id) VALUES (9)",
        "SELECT 1; DELETE FROM people",
        "PRAGMA query_only = OFF",
    ],
)
def test_a_write_statement_is_refused_and_changes_no_row(data_root: Path, query: str) -> None:
    run("bulk_insert", table="people", data=ROWS)
    with pytest.raises((PermissionError, ValueError), match="read-only"):
        run("complex_query", query=query)
    after = run("complex_query", query="SELECT id, name FROM people ORDER BY id")
    assert after["rows"] == [[1, "ada"], [2, "grace"], [3, None]]


def test_complex_query_truncates_at_max_rows(data_root: Path) -> None:
    run("bulk_insert", table="numbers", data=[{"n": n} for n in range(5)])
    found = run("complex_query", query="SELECT n FROM numbers ORDER BY n", max_rows=3)
    assert found["rows"] == [[0], [1], [2]]
    assert found["truncated"] is True


def test_complex_query_wants_every_bound_parameter_and_no_other(data_root: Path) -> None:
    with pytest.raises(ValueError, match=":low"):
        run("complex_query", query="SELECT :low AS x")
    with pytest.raises(ValueError, match="not used"):
        run("complex_query", query="SELECT 1", parameters={"low": 1})


def test_export_table_writes_csv_and_parquet_that_read_back_equal(data_root: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    run("bulk_insert", table="people", data=ROWS)
    expected = pd.DataFrame(ROWS)
    written = run("export_table", table="people", output_path="out/people.csv")
    assert written == {
        "path": str(data_root / "out" / "people.csv"),
        "rows": 3,
        "format": "csv",
        "bytes": (data_root / "out" / "people.csv").stat().st_size,
    }
    from_csv = pd.read_csv(written["path"])
    pd.testing.assert_frame_equal(from_csv, expected, check_dtype=False)

    written = run(
        "export_table", table="people", output_path="out/people.parquet", format="parquet"
    )
    table = pq.read_table(written["path"])
    assert [str(field.type) for field in table.schema] == ["int64", "string", "double", "bool"]
    assert table.to_pylist() == ROWS
    assert sorted(path.name for path in (data_root / "out").iterdir()) == [
        "people.csv",
        "people.parquet",
    ]


def test_exporting_a_missing_table_fails_and_leaves_no_file(data_root: Path) -> None:
    with pytest.raises(ValueError, match="no table 'ghost'"):
        run("export_table", table="ghost", output_path="out/ghost.csv")
    assert list((data_root / "out").iterdir()) == []


def test_a_principal_s_task_cannot_reach_an_unlisted_server_even_past_validation(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vokaflow.functions.database import database_url

    monkeypatch.setenv("VOKAFLOW_DATABASE_URL", "postgresql+psycopg://app@db/app")
    task = _Task("task-1")
    task.data_scope = "alice"
    monkeypatch.setattr("vokaflow.functions.database.current_task", lambda: task)
    with pytest.raises(PermissionError, match="may not use the database 'default'"):
        database_url("default")
    monkeypatch.setenv("VOKAFLOW_USER_DATABASES", '["default"]')
    assert database_url("default") == "postgresql+psycopg://app@db/app"


# --- bounds on complex_query and export_table, on SQLite --------------------------------


@pytest.fixture
def small_bounds(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """VOKAFLOW_QUERY_MAX_BYTES of 4 KiB and a time bound of half a second."""
    monkeypatch.setenv("VOKAFLOW_QUERY_MAX_BYTES", "4096")
    monkeypatch.setenv("VOKAFLOW_QUERY_TIMEOUT_S", "0.5")
    return 4096


def test_a_value_larger_than_the_byte_bound_is_refused_by_sqlite(small_bounds: int) -> None:
    with pytest.raises(ValueError, match=r"a value is larger than VOKAFLOW_QUERY_MAX_BYTES"):
        run("complex_query", query=f"SELECT randomblob({small_bounds + 1})")
    assert len(run("complex_query", query="SELECT randomblob(3000)")["rows"][0][0]) == 4000


def test_a_result_larger_than_the_byte_bound_fails_the_query(small_bounds: int) -> None:
    rows = [{"id": n, "note": "x" * 100} for n in range(100)]
    run("bulk_insert", table="notes", data=rows)
    with pytest.raises(ValueError, match="result is larger than VOKAFLOW_QUERY_MAX_BYTES"):
        run("complex_query", query="SELECT id, note FROM notes ORDER BY id")
    found = run("complex_query", query="SELECT id, note FROM notes ORDER BY id", max_rows=20)
    assert found["row_count"] == 20 and found["truncated"] is True


def test_the_row_past_max_rows_does_not_count_against_the_bytes(small_bounds: int) -> None:
    query = "SELECT 1 UNION ALL SELECT randomblob(4000)"
    assert run("complex_query", query=query, max_rows=1) == {
        "columns": ["1"],
        "rows": [[1]],
        "row_count": 1,
        "truncated": True,
    }


def test_a_statement_past_the_time_bound_is_stopped(small_bounds: int) -> None:
    endless = (
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
    )
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"VOKAFLOW_QUERY_TIMEOUT_S \(0.5 s\)"):
        run("complex_query", query=endless)
    assert time.monotonic() - started < 3
    # the connection goes back to the pool without the deadline
    time.sleep(0.6)
    assert run("complex_query", query="SELECT 1")["rows"] == [[1]]


def test_an_export_writes_chunks_of_at_most_the_byte_bound(small_bounds: int) -> None:
    import pyarrow.parquet as pq

    rows = [{"id": n, "note": "x" * 100} for n in range(200)]
    run("bulk_insert", table="notes", data=rows)
    written = run("export_table", table="notes", output_path="notes.parquet", format="parquet")
    exported = pq.ParquetFile(written["path"])
    assert exported.metadata.num_rows == 200
    assert exported.num_row_groups > 5  # a group holds about 4 KiB of rows, not 10,000 rows
    assert exported.read().to_pylist() == rows


def test_an_export_of_a_row_larger_than_the_byte_bound_fails_and_leaves_no_file(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("bulk_insert", table="wide", data=[{f"c{n}": "x" * 1000 for n in range(5)}])
    run("bulk_insert", table="long", data=[{"note": "x" * 5000}])
    monkeypatch.setenv("VOKAFLOW_QUERY_MAX_BYTES", "4096")
    with pytest.raises(ValueError, match="row 1 is larger than VOKAFLOW_QUERY_MAX_BYTES"):
        run("export_table", table="wide", output_path="out/wide.csv")
    with pytest.raises(ValueError, match="a value is larger than VOKAFLOW_QUERY_MAX_BYTES"):
        run("export_table", table="long", output_path="out/long.csv")
    assert list((data_root / "out").iterdir()) == []
