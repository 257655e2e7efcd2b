"""Every task and batch belongs to the principal that created it: another principal gets
the same 404 as for something that does not exist; admin keys see everything."""

from __future__ import annotations

from tests.integration.helpers import submit, submit_batch, user_client


def test_another_principals_task_is_not_found_for_status_and_cancel(stack, api):
    with user_client(stack, "fay") as fay, user_client(stack, "gus") as gus:
        task = submit(fay, "sleep", 5, priority="LOW")
        url = f"/api/high-scale-tasks/status/{task['task_id']}"
        missing = gus.get("/api/high-scale-tasks/status/no-such-task")
        seen_by_gus = gus.get(url)
        assert seen_by_gus.status_code == 404 == missing.status_code
        assert seen_by_gus.json()["error"] == missing.json()["error"] == "not_found"
        assert gus.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}").status_code == 404
        assert fay.get(url).status_code == 200
        assert api.get(url).status_code == 200, "admin keys see every task"
        assert fay.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}").status_code == 200


def test_another_principals_batch_is_not_found(stack, api):
    with user_client(stack, "hal") as hal, user_client(stack, "ida") as ida:
        batch = submit_batch(hal, [{"name": "x", "function_name": "noop"}])
        url = f"/api/high-scale-tasks/batch/{batch['batch_id']}"
        assert ida.get(url).status_code == 404
        assert hal.get(url).status_code == 200
        assert api.get(url).status_code == 200
