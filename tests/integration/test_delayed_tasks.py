"""Delayed tasks on the whole stack: one runs after its delay and not before, a cancelled
one never runs, and a batch of them spread over a few seconds runs each exactly once.
(A scheduler killed while tasks are scheduled: tests/chaos/test_delayed_restart.py.)"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from tests.integration.helpers import status, submit, submit_batch, wait_until

LATE_S = 2.0  # generous for a loaded 2-core machine; the benchmark measures the real figure


def _epoch(iso_naive_utc: str) -> float:
    return datetime.fromisoformat(iso_naive_utc).replace(tzinfo=timezone.utc).timestamp()


def test_a_delayed_task_runs_after_its_delay_and_not_before(api):
    task = submit(api, "noop", delay_seconds=3)
    assert task["status"] == "scheduled"
    time.sleep(1.5)
    assert status(api, task["task_id"])["status"] == "scheduled"
    done = wait_until(api, task["task_id"], timeout_s=30)
    assert done["status"] == "completed" and done["attempts"] == 1
    lateness = _epoch(done["started_at"]) - _epoch(done["run_at"])
    assert 0 <= lateness < LATE_S, lateness


def test_a_task_cancelled_while_scheduled_never_runs(api):
    task = submit(api, "noop", delay_seconds=1)
    assert api.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}").status_code == 200
    time.sleep(2)
    seen = status(api, task["task_id"])
    assert (seen["status"], seen["started_at"], seen["attempts"]) == ("cancelled", None, 0)


def test_a_batch_of_delayed_tasks_runs_each_once_at_or_after_its_time(api):
    start = datetime.now(timezone.utc)
    tasks = [
        {
            "name": f"d{i}",
            "function_name": "noop",
            "run_at": (start + timedelta(seconds=1 + i * 0.05)).isoformat(),
        }
        for i in range(60)
    ]
    batch = submit_batch(api, tasks)
    assert batch["total_submitted"] == 60
    ids = [t["task_id"] for t in batch["successful_tasks"]]
    finished = [wait_until(api, task_id, timeout_s=60) for task_id in ids]
    assert {f["status"] for f in finished} == {"completed"}
    assert {f["attempts"] for f in finished} == {1}
    lateness = [_epoch(f["started_at"]) - _epoch(f["run_at"]) for f in finished]
    assert min(lateness) >= 0 and max(lateness) < LATE_S, (min(lateness), max(lateness))
