"""Timeouts stop the worker, failures retry with backoff, cancel stops a running task."""

from __future__ import annotations

from datetime import datetime

from tests.integration.helpers import pid_gone, status, submit, wait_until


def _running_pid(api, task_id: str) -> int:
    import time

    deadline = time.monotonic() + 30
    while (pid := status(api, task_id).get("worker_pid")) is None:
        assert time.monotonic() < deadline, "the running task never reported its worker"
        time.sleep(0.05)
    return int(pid)


def test_a_task_past_its_timeout_ends_as_timeout_and_its_worker_process_is_gone(api):
    task = submit(api, "sleep", 60, timeout=2, worker_type="IO_INTENSIVE")
    wait_until(api, task["task_id"], {"running"})
    pid = _running_pid(api, task["task_id"])
    final = wait_until(api, task["task_id"], timeout_s=30)
    assert final["status"] == "timeout"
    assert final["error"]["type"] == "TimeoutError"
    assert 2.0 <= final["execution_time"] < 10.0
    assert pid_gone(pid), f"worker {pid} still runs after the timeout"


def test_queued_time_does_not_count_against_the_timeout(api):
    blocker = submit(api, "sleep", 2.5, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    waiting = submit(api, "sleep", 0.5, timeout=2, worker_type="MEMORY_INTENSIVE")
    assert wait_until(api, waiting["task_id"])["status"] == "completed"


def test_a_failing_task_is_retried_with_growing_backoff_and_keeps_its_last_error(api):
    task = submit(api, "raise_error", "flaky disk", retry_count=2)
    seen_retrying = wait_until(api, task["task_id"], {"queued", "failed"})
    final = wait_until(api, task["task_id"], timeout_s=30)
    assert final["status"] == "failed"
    assert final["attempts"] == 3 and final["retry_count"] == 2
    assert final["error"]["message"] == "flaky disk"
    assert "Traceback" in final["error"]["traceback"]
    elapsed = (
        datetime.fromisoformat(final["completed_at"]) - datetime.fromisoformat(final["created_at"])
    ).total_seconds()
    assert elapsed >= 0.2 + 0.4, "two backoffs (base 0.4 s, equal jitter) came first"
    assert seen_retrying["status"] in {"queued", "failed"}


def test_a_retrying_task_shows_its_attempts_error_and_next_retry_time(api):
    task = submit(api, "raise_error", "again", retry_count=5)
    import time

    deadline = time.monotonic() + 20
    while True:
        current = status(api, task["task_id"])
        if current["attempts"] >= 1 and current["status"] == "queued" and current["retry_at"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert current["error"]["message"] == "again"
    api.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}")


def test_retry_count_zero_means_a_single_attempt(api):
    task = submit(api, "raise_error", "once", retry_count=0)
    final = wait_until(api, task["task_id"])
    assert final["status"] == "failed" and final["attempts"] == 1


def test_cancelling_a_running_task_stops_its_worker_process(api):
    task = submit(api, "sleep", 60, worker_type="IO_INTENSIVE")
    wait_until(api, task["task_id"], {"running"})
    pid = _running_pid(api, task["task_id"])
    assert api.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}").status_code == 200
    assert wait_until(api, task["task_id"])["status"] == "cancelled"
    assert pid_gone(pid), f"worker {pid} still runs after cancel"
