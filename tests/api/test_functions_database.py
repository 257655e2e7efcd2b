"""The database functions' arguments, refused at submit
(tests/integration/test_functions_database.py runs them on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.api.submits import refused_field as _refused


def test_bad_table_names_rows_and_batch_sizes_get_400_naming_the_field(api):
    good = {"table": "t", "data": [{"a": 1}]}
    assert _refused(api, "bulk_insert", **{**good, "table": "t; drop table x"}) == "kwargs.table"
    assert _refused(api, "bulk_insert", **{**good, "data": {"a": 1}}) == "kwargs.data"
    assert _refused(api, "bulk_insert", **{**good, "data": []}) == "kwargs.data"
    assert _refused(api, "bulk_insert", **{**good, "batch_size": 0}) == "kwargs.batch_size"
    assert _refused(api, "bulk_insert", **{**good, "data": [{"a b": 1}]}).startswith("kwargs.data")
    assert _refused(api, "complex_query", query="SELECT 1", max_rows=0) == "kwargs.max_rows"
    assert _refused(api, "export_table", table="drop table", output_path="x.csv") == "kwargs.table"


@pytest.mark.parametrize("function_name", ["bulk_insert", "complex_query", "export_table"])
def test_an_unknown_database_name_gets_400(api, function_name):
    kwargs = {
        "bulk_insert": {"table": "t", "data": [{"a": 1}]},
        "complex_query": {"query": "SELECT 1"},
        "export_table": {"table": "t", "output_path": "x.csv"},
    }[function_name]
    field = _refused(api, function_name, **kwargs, database="postgresql://evil.example/db")
    assert field == "kwargs.database"


def test_an_export_path_that_climbs_out_gets_400(api):
    assert _refused(api, "export_table", table="t", output_path="../x.csv") == "kwargs.output_path"
    assert _refused(api, "export_table", table="t", output_path="/etc/x.csv") == (
        "kwargs.output_path"
    )
