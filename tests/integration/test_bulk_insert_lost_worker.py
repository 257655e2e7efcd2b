"""A bulk_insert whose worker was lost mid-transaction, on the real PostgreSQL.

A worker on a lost node never closes its connection, so its transaction stays open and
holds the ledger row's key. The task's re-run waits on that key until PostgreSQL ends the
idle transaction, then inserts. The function runs in this process, as a worker runs it,
so that the test can hold the lost worker's transaction itself."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL, ensure_postgres_role
from vokaflow.functions import database, registry
from vokaflow.functions.database import AppliedTasks

TASK_ID = f"lost-{os.urandom(4).hex()}"
TABLE = f"lost_{os.urandom(4).hex()}"
ROWS = [{"id": 1, "city": "Lima"}, {"id": 2, "city": "Oslo"}]


class _AdminTask:
    task_id = TASK_ID
    created_at = 1e9
    data_scope = ""


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    ensure_postgres_role()
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("VOKAFLOW_DATABASES", json.dumps({"pg": POSTGRES_URL}))
    monkeypatch.setattr(database, "current_task", lambda: _AdminTask())
    monkeypatch.setattr(database, "ABANDONED_INSERT_TIMEOUT_S", 1.0)
    engine = sa.create_engine(POSTGRES_URL)
    yield engine
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP TABLE IF EXISTS "{TABLE}"'))
        ledger = sa.text(f"DELETE FROM {AppliedTasks.NAME} WHERE task_id = :t")
        connection.execute(ledger, {"t": TASK_ID})
    engine.dispose()


def _bulk_insert() -> dict[str, Any]:
    entry = registry.get("bulk_insert")
    args, checked = entry.validated([], {"table": TABLE, "data": ROWS, "database": "pg"})
    result: dict[str, Any] = entry.invoke(*args, **checked)
    return result


def test_a_rerun_waits_until_postgres_ends_the_lost_worker_s_open_insert_then_inserts(
    engine: Any,
) -> None:
    ledger = AppliedTasks.open(engine, _AdminTask(), TABLE, ROWS)  # type: ignore[arg-type]
    assert ledger is not None
    lost_worker = engine.connect()
    try:
        lost_worker.begin()
        ledger.claim(lost_worker)  # the worker's node is lost here, its connection left open

        outcome: list[dict[str, Any]] = []
        rerun = threading.Thread(target=lambda: outcome.append(_bulk_insert()), daemon=True)
        started = time.monotonic()
        rerun.start()
        time.sleep(0.5)
        assert rerun.is_alive(), "the re-run did not wait for the open insert"
        rerun.join(30)
        waited = time.monotonic() - started

        assert outcome == [{"table": TABLE, "inserted": 2, "batches": 1, "database": "pg"}]
        assert 0.9 < waited < 15
        with pytest.raises(sa.exc.DBAPIError, match="idle-in-transaction timeout"):
            lost_worker.execute(sa.text("SELECT 1"))  # PostgreSQL ended that session
    finally:
        lost_worker.close()  # where PostgreSQL did not end it, its lock goes now
    with engine.connect() as connection:
        count = connection.execute(sa.text(f'SELECT count(*) FROM "{TABLE}"')).scalar()
    assert count == 2
