"""POST /batch and GET /batch/{id}: execution modes, max_failures and batch_timeout."""

from __future__ import annotations

import itertools
from datetime import datetime

from tests.integration.helpers import status, submit_batch, wait_batch

IO = "IO_INTENSIVE"


def _sleep(i: int, seconds: float, **extra) -> dict:
    return {
        "name": f"s{i}",
        "function_name": "sleep",
        "args": [seconds],
        "worker_type": IO,
        **extra,
    }


def _fail(i: int) -> dict:
    return {
        "name": f"f{i}",
        "function_name": "raise_error",
        "args": [f"f{i}"],
        "worker_type": IO,
        "retry_count": 0,
    }


def _spans(api, batch: dict) -> list[tuple[datetime, datetime]]:
    records = [status(api, t["task_id"]) for t in batch["successful_tasks"]]
    return [
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["completed_at"]))
        for r in records
    ]


def test_the_batch_response_has_the_spec_fields(api):
    batch = submit_batch(
        api,
        [_sleep(0, 0), _sleep(1, 0)],
        batch_priority="HIGH",
        execution_mode="parallel",
        batch_timeout=900,
        max_failures=5,
    )
    assert batch["batch_id"].startswith("batch_")
    assert batch["total_submitted"] == 2 and batch["total_errors"] == 0
    assert batch["errors"] == [] and batch["execution_mode"] == "parallel"
    assert set(batch["successful_tasks"][0]) == {"task_id", "name", "partition", "redis_node"}
    assert batch["estimated_completion"].endswith("Z")
    done = wait_batch(api, batch["batch_id"])
    assert (done["status"], done["completed"], done["unfinished"]) == ("completed", 2, 0)
    assert status(api, batch["successful_tasks"][0]["task_id"])["priority"] == "HIGH"


def test_parallel_tasks_run_at_the_same_time(api):
    batch = submit_batch(api, [_sleep(i, 1.0) for i in range(2)], execution_mode="parallel")
    wait_batch(api, batch["batch_id"])
    (start_a, end_a), (start_b, end_b) = _spans(api, batch)
    assert start_b < end_a and start_a < end_b


def test_sequential_tasks_each_start_after_the_previous_one_ends(api):
    batch = submit_batch(api, [_sleep(i, 0.3) for i in range(3)], execution_mode="sequential")
    assert wait_batch(api, batch["batch_id"])["completed"] == 3
    spans = _spans(api, batch)
    for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
        assert next_start >= previous_end


def test_adaptive_runs_in_parallel_then_one_at_a_time_once_failures_rise(api):
    # The IO pool has 8 slots: up to 8 + 4 tasks can be out before 5 have finished and the
    # failure ratio is judged, so the last 4 of 16 must run one at a time.
    tasks = [_fail(i) for i in range(6)] + [_sleep(6 + i, 0.3) for i in range(10)]
    batch = submit_batch(api, tasks, execution_mode="adaptive")
    done = wait_batch(api, batch["batch_id"])
    assert (done["failed"], done["completed"]) == (6, 10)
    tail = _spans(api, batch)[-4:]
    for (_, previous_end), (next_start, _) in itertools.pairwise(tail):
        assert next_start >= previous_end, "after the failures the rest ran one at a time"


def test_past_max_failures_the_rest_of_the_batch_is_cancelled(api):
    batch = submit_batch(
        api, [_fail(i) for i in range(6)], execution_mode="sequential", max_failures=1
    )
    done = wait_batch(api, batch["batch_id"])
    assert done["status"] == "aborted"
    assert (done["failed"], done["cancelled"], done["unfinished"]) == (2, 4, 0)
    states = [status(api, t["task_id"])["status"] for t in batch["successful_tasks"]]
    assert states == ["failed", "failed", "cancelled", "cancelled", "cancelled", "cancelled"]


def test_after_batch_timeout_the_unfinished_tasks_end_as_timeout(api):
    tasks = [_sleep(i, 30) for i in range(3)]
    batch = submit_batch(api, tasks, execution_mode="sequential", batch_timeout=2)
    done = wait_batch(api, batch["batch_id"], timeout_s=30)
    assert done["status"] == "timeout"
    assert (done["timeout"], done["unfinished"]) == (3, 0)
    assert all(status(api, t["task_id"])["status"] == "timeout" for t in batch["successful_tasks"])


def test_cancelling_a_task_of_a_sequential_batch_lets_the_next_one_run(api):
    batch = submit_batch(api, [_sleep(0, 30), _sleep(1, 0)], execution_mode="sequential")
    first = batch["successful_tasks"][0]["task_id"]
    import time

    while status(api, first)["status"] != "running":
        time.sleep(0.05)
    api.delete(f"/api/high-scale-tasks/cancel/{first}")
    done = wait_batch(api, batch["batch_id"])
    assert (done["cancelled"], done["completed"]) == (1, 1)
