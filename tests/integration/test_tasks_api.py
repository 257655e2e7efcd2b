"""Submit → Ray → Redis → status, through the real HTTP port."""

from __future__ import annotations

import time
from datetime import datetime

from tests.integration.helpers import status, submit, wait_until

STATUS_FIELDS = {
    "task_id": str,
    "name": str,
    "status": str,
    "priority": str,
    "worker_type": str,
    "category": str,
    "partition": int,
    "redis_node": str,
    "created_at": str,
    "retry_count": int,
    "metadata": dict,
}


def test_a_submitted_task_completes_with_its_real_result(api):
    accepted = submit(api, "statistical_summary", [1, 2, 3, 4, 10], category="analytics")
    done = wait_until(api, accepted["task_id"])
    assert done["status"] == "completed"
    assert done["result"]["mean"] == 4.0
    assert done["result"]["median"] == 3.0
    assert done["result"]["max"] == 10.0
    assert done["error"] is None


def test_status_of_a_completed_task_carries_timings_and_metadata(api):
    accepted = submit(api, "health_check", metadata={"user_id": "12345"})
    done = wait_until(api, accepted["task_id"])
    for field, kind in STATUS_FIELDS.items():
        assert isinstance(done[field], kind), field
    assert done["status"] == "completed"
    assert done["metadata"] == {"user_id": "12345"}
    assert done["result"]["status"] == "healthy"
    started = datetime.fromisoformat(done["started_at"])
    finished = datetime.fromisoformat(done["completed_at"])
    assert datetime.fromisoformat(done["created_at"]) <= started <= finished
    assert isinstance(done["execution_time"], float) and done["execution_time"] >= 0
    assert done["retry_count"] == 0


def test_a_function_that_raises_ends_failed_with_the_error_and_traceback(api):
    accepted = submit(api, "raise_error", "disk on fire", retry_count=0)
    done = wait_until(api, accepted["task_id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "RuntimeError"
    assert done["error"]["message"] == "disk on fire"
    assert "raise_error" in done["error"]["traceback"]


def test_the_qualified_name_system_health_check_is_accepted(api):
    accepted = submit(api, "system.health_check")
    assert wait_until(api, accepted["task_id"])["status"] == "completed"


def test_status_of_a_queued_task_reports_its_queue_position(api):
    blocker = submit(api, "sleep", 2, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    first = submit(api, "noop", worker_type="MEMORY_INTENSIVE", priority="LOW")
    second = submit(api, "noop", worker_type="MEMORY_INTENSIVE", priority="LOW")
    assert second["queue_position"] == first["queue_position"] + 1
    assert status(api, second["task_id"])["queue_position"] == second["queue_position"]
    wait_until(api, second["task_id"])


def _estimated_s(api, function: str, *args) -> float:
    accepted = submit(api, function, *args, worker_type="IO_INTENSIVE")
    created = datetime.fromisoformat(accepted["created_at"])
    estimate = datetime.fromisoformat(accepted["estimated_completion"].rstrip("Z"))
    wait_until(api, accepted["task_id"])
    return (estimate - created).total_seconds()


def test_estimated_completion_uses_the_functions_measured_run_time(api):
    for function, args in (("sleep", [0.8]), ("sleep", [0.8]), ("noop", []), ("noop", [])):
        wait_until(api, submit(api, function, *args, worker_type="IO_INTENSIVE")["task_id"])
    # a gateway replica refreshes measured averages every 5 s: ask until it has
    deadline = time.monotonic() + 12
    while _estimated_s(api, "sleep", 0.8) <= _estimated_s(api, "noop") + 0.2:
        assert time.monotonic() < deadline, "the estimate never used the measured run time"
        time.sleep(0.5)
