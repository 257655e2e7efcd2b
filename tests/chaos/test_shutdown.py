"""`vokaflow down` drains: new tasks get 503, running ones finish, queued ones wait in Redis
for the next `up`. Runs last of the stack tier (tests/conftest.py orders it): it stops and
restarts the session's stack."""

from __future__ import annotations

import threading
import time

import httpx

from vokaflow.testing.tally import read_tally, wait_all_terminal

SUBMIT = "/api/high-scale-tasks/submit"


def _sleeps(api: httpx.Client, count: int, seconds: float) -> list[str]:
    task = {"name": "drain", "function_name": "sleep", "args": [seconds], "retry_count": 0}
    reply = api.post("/api/high-scale-tasks/batch", json={"tasks": [task] * count})
    assert reply.status_code == 200 and reply.json()["total_errors"] == 0, reply.text
    return [t["task_id"] for t in reply.json()["successful_tasks"]]


def _submit_sleep(api: httpx.Client) -> str:
    """One task; a 503 is retried as a client would, anything else fails the test."""
    for _ in range(3):
        reply = api.post(SUBMIT, json={"name": "first", "function_name": "sleep", "args": [1]})
        if reply.status_code != 503:
            break
        time.sleep(0.5)
    assert reply.status_code == 200, reply.text
    task_id: str = reply.json()["task_id"]
    return task_id


def test_down_refuses_new_tasks_finishes_running_ones_and_keeps_queued_ones(chaos_stack):
    with chaos_stack.client() as api:
        # Single submits start alone and fill the general pool; the batch waits behind them.
        task_ids = [_submit_sleep(api) for _ in range(4)]
        task_ids += _sleeps(api, 36, 0.5)
        deadline = time.monotonic() + 30
        while read_tally(chaos_stack, task_ids).by_status.get("running", 0) == 0:
            assert time.monotonic() < deadline, "nothing started"
            time.sleep(0.1)
        refused: list[int] = []
        said: list[str] = []
        down = threading.Thread(target=lambda: said.append(chaos_stack.cli("down").stdout))
        down.start()
        deadline = time.monotonic() + 10
        while not refused and time.monotonic() < deadline:
            reply = api.post(SUBMIT, json={"name": "late", "function_name": "noop"})
            # Only the drain's own refusal (component "vokaflow") counts here.
            if reply.status_code == 503 and reply.json()["details"]["component"] == "vokaflow":
                refused.append(reply.status_code)
            time.sleep(0.1)
        down.join(timeout=120)
    assert refused, "submits were still accepted while draining"
    after_down = read_tally(chaos_stack, task_ids)
    assert after_down.missing == [], said
    assert "running tasks finished" in said[0]
    assert after_down.by_status.get("running", 0) == 0, after_down.by_status
    assert after_down.by_status.get("completed", 0) >= 1
    assert after_down.by_status.get("queued", 0) >= 1, "the queued tasks were kept for `up`"

    chaos_stack.start()
    tally = wait_all_terminal(chaos_stack, task_ids, timeout_s=120)
    assert tally.missing == [] and tally.by_status == {"completed": 40}
    with chaos_stack.client() as api:
        assert api.post(SUBMIT, json={"name": "again", "function_name": "noop"}).status_code == 200
