"""Attacks on the database functions through the API, each with a new non-admin key: reads
that would hold a worker's memory or time, and the side effects that a read-only
transaction on PostgreSQL does not stop.

The stack's settings (tests/conftest.py): VOKAFLOW_QUERY_MAX_BYTES is 4 MiB and
VOKAFLOW_QUERY_TIMEOUT_S 5 s. Non-admin keys may use their own SQLite ``default``,
``pg_shared`` (PostgreSQL as a role configured as complex_query asks) and ``pg_unsafe``
(a role that may also write server files, signal other sessions and take advisory locks,
as an operator might have left it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_ADMIN_URL, POSTGRES_UNSAFE_URL
from tests.integration.helpers import submit, wait_until
from tests.security.conftest import TenantFactory

MAX_BYTES = 4 * 1024 * 1024
TIMEOUT_S = 5
SQLITE_HEAP_LIMIT = 512 * 1024 * 1024  # the floor, above twice MAX_BYTES
RUN = os.urandom(4).hex()


def _failed(client: httpx.Client, function_name: str, **kwargs: Any) -> dict[str, Any]:
    """The task's error, once it has failed (it must not complete, or run into its own
    timeout of 40 s: the bounds must end it first)."""
    task = submit(client, function_name, kwargs=kwargs, retry_count=0, timeout=40)
    done = wait_until(client, task["task_id"], timeout_s=60)
    assert done["status"] == "failed", {key: done[key] for key in ("status", "error")}
    error: dict[str, Any] = done["error"]
    return error


def _query_failure(client: httpx.Client, query: str, database: str) -> str:
    message: str = _failed(client, "complex_query", query=query, database=database)["message"]
    return message


@pytest.fixture
def admin_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _blobs(size: int, count: int) -> str:
    return "SELECT " + ", ".join([f"randomblob({size})"] * count)


def _strings(size: int, count: int) -> str:
    return "SELECT " + ", ".join([f"repeat('x', {size})"] * count)


# --- memory ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("database", "query"),
    [
        ("default", "SELECT randomblob(1000000000)"),
        # 20 MB, five times the bound: PostgreSQL made 10^8 bytes in over 5 s (the query
        # timeout) on loaded cores, and 10^9 always takes it longer
        ("pg_shared", "SELECT repeat('x', 20000000)"),
    ],
)
def test_one_huge_value_fails_the_query_before_it_reaches_the_worker(
    tenant: TenantFactory, database: str, query: str
) -> None:
    message = _query_failure(tenant(), query, database)
    assert f"VOKAFLOW_QUERY_MAX_BYTES ({MAX_BYTES} bytes)" in message


@pytest.mark.parametrize(
    ("database", "query"),
    [
        (
            "default",
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 100) "
            "SELECT i, randomblob(1000000) FROM r",
        ),
        ("pg_shared", "SELECT i, repeat('x', 1000000) FROM generate_series(1, 100) AS i"),
    ],
)
def test_many_big_rows_fail_the_query_once_they_pass_the_bound(
    tenant: TenantFactory, database: str, query: str
) -> None:
    message = _query_failure(tenant(), query, database)
    assert f"result is larger than VOKAFLOW_QUERY_MAX_BYTES ({MAX_BYTES} bytes) by row" in message


def test_a_row_of_many_big_values_fails_within_sqlite_s_heap_cap(tenant: TenantFactory) -> None:
    # each value is under the bound; together they are over what SQLite may hold
    message = _query_failure(tenant(), _blobs(4_000_000, 150), "default")
    assert f"SQLite may use {SQLITE_HEAP_LIMIT} bytes" in message


def test_a_row_of_many_big_values_is_measured_whole_by_postgres(tenant: TenantFactory) -> None:
    message = _query_failure(tenant(), _strings(1_000_000, 10), "pg_shared")
    assert "larger than VOKAFLOW_QUERY_MAX_BYTES" in message and "by row 1" in message


def test_an_export_of_a_huge_row_fails_without_reaching_the_worker(
    tenant: TenantFactory, admin_engine: sa.Engine
) -> None:
    table = f"attack_huge_{RUN}"  # someone else's table on the shared server
    with admin_engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} AS SELECT repeat('x', 20000000) AS a")
        connection.exec_driver_sql(f"GRANT SELECT ON {table} TO PUBLIC")
    try:
        error = _failed(
            tenant(), "export_table", table=table, output_path="huge.csv", database="pg_shared"
        )
    finally:
        with admin_engine.connect() as connection:
            connection.exec_driver_sql(f"DROP TABLE {table}")
    assert f"row 1 is larger than VOKAFLOW_QUERY_MAX_BYTES ({MAX_BYTES} bytes)" in error["message"]


# --- time -----------------------------------------------------------------------------


def test_an_endless_sqlite_statement_is_stopped_by_the_time_bound(tenant: TenantFactory) -> None:
    endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT max(i) FROM r"
    started = time.monotonic()
    error = _failed(tenant(), "complex_query", query=endless)
    assert error["type"] == "TimeoutError"
    assert f"VOKAFLOW_QUERY_TIMEOUT_S ({TIMEOUT_S} s)" in error["message"]
    assert time.monotonic() - started < TIMEOUT_S + 15


def test_a_sleeping_postgres_statement_is_stopped_on_the_server_too(
    tenant: TenantFactory, admin_engine: sa.Engine
) -> None:
    marker = f"attack_sleep_{RUN}"
    # setting statement_timeout inside the statement does not lift the bound on it
    sleep = f"SELECT set_config('statement_timeout', '0', true), pg_sleep(600) AS {marker}"
    error = _failed(tenant(), "complex_query", query=sleep, database="pg_shared")
    assert error["type"] == "TimeoutError"
    with admin_engine.connect() as connection:
        still_running = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND pid <> pg_backend_pid() AND query LIKE %s",
            (f"%{marker}%",),
        ).scalar()
    assert still_running == 0


# --- what a read-only transaction does not stop ---------------------------------------


@pytest.fixture
def victim() -> Iterator[sa.Connection]:
    """Another session of pg_unsafe's role: another tenant's query, say."""
    engine = sa.create_engine(POSTGRES_UNSAFE_URL, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def _advisory_locks_held(admin_engine: sa.Engine, key: int) -> int:
    with admin_engine.connect() as connection:
        held: int = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s", (key,)
        ).scalar_one()
    return held


def test_a_role_that_may_write_files_signal_or_lock_is_refused_before_any_statement(
    tenant: TenantFactory, victim: sa.Connection, admin_engine: sa.Engine
) -> None:
    attacker, planted = tenant(), Path(f"/tmp/vokaflow-attack-{RUN}")
    attacks = [
        f"COPY (SELECT 'owned') TO '{planted}'",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE usename = current_user AND pid <> pg_backend_pid()",
        "SELECT pg_advisory_lock(7316)",
    ]
    try:
        for attack in attacks:
            message = _query_failure(attacker, attack, "pg_unsafe")
            assert "REVOKE pg_write_server_files FROM vokaflow_it_unsafe;" in message
            assert "REVOKE EXECUTE ON FUNCTION pg_advisory_lock(bigint)" in message
            assert "pg_terminate_backend(integer,bigint) FROM PUBLIC" in message
        assert not planted.exists()
        assert victim.exec_driver_sql("SELECT 1").scalar() == 1
        assert _advisory_locks_held(admin_engine, 7316) == 0
    finally:
        planted.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "attack",
    [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE usename = current_user AND pid <> pg_backend_pid()",
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
        "WHERE usename = current_user AND pid <> pg_backend_pid()",
        "SELECT pg_advisory_lock(7317)",
        "SELECT pg_try_advisory_lock_shared(7317)",
        "SELECT pg_logical_emit_message(false, 'vokaflow', repeat('x', 1000))",
    ],
)
def test_a_configured_role_may_not_signal_or_lock_other_sessions(
    tenant: TenantFactory, admin_engine: sa.Engine, attack: str
) -> None:
    message = _query_failure(tenant(), attack, "pg_shared")
    assert "permission denied for function" in message
    assert _advisory_locks_held(admin_engine, 7317) == 0
