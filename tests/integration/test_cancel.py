"""DELETE /cancel: 200 for queued and running tasks, 404 unknown, 409 once terminal."""

from __future__ import annotations

from tests.integration.helpers import submit, wait_until


def test_a_queued_task_is_cancelled_and_never_runs(api):
    blocker = submit(api, "sleep", 1.5, worker_type="MEMORY_INTENSIVE")
    wait_until(api, blocker["task_id"], {"running"})
    queued = submit(api, "health_check", worker_type="MEMORY_INTENSIVE")
    reply = api.delete(f"/api/high-scale-tasks/cancel/{queued['task_id']}")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "cancelled"
    assert body["message"] == "Task cancelled successfully"
    wait_until(api, blocker["task_id"])
    final = wait_until(api, queued["task_id"])
    assert final["status"] == "cancelled"
    assert final["result"] is None and final["attempts"] == 0


def test_a_running_task_is_cancelled(api):
    running = submit(api, "sleep", 30)
    wait_until(api, running["task_id"], {"running"})
    assert api.delete(f"/api/high-scale-tasks/cancel/{running['task_id']}").status_code == 200
    assert wait_until(api, running["task_id"])["status"] == "cancelled"


def test_cancelling_a_finished_task_is_409_and_keeps_its_result(api):
    done = submit(api, "statistical_summary", [2, 4])
    wait_until(api, done["task_id"])
    reply = api.delete(f"/api/high-scale-tasks/cancel/{done['task_id']}")
    assert reply.status_code == 409
    assert reply.json()["error"] == "conflict"
    final = wait_until(api, done["task_id"])
    assert final["status"] == "completed" and final["result"]["mean"] == 3.0
