"""GET /api/logs/task/{id} and GET /api/logs: a task's history and output, the service's
own entries, by level, bounded, and only to whom they belong."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from itertools import pairwise

from tests.integration.helpers import submit, user_client, wait_until


def _events(reply) -> list[str]:
    return [entry["event"] for entry in reply.json()["entries"]]


def test_a_task_log_holds_its_history_and_the_lines_its_function_printed(api):
    task = submit(api, "echo", "a line printed by the task", "WARNING")
    wait_until(api, task["task_id"])
    reply = api.get(f"/api/logs/task/{task['task_id']}")
    assert reply.status_code == 200
    body = reply.json()
    assert body["task_id"] == task["task_id"] and body["count"] == len(body["entries"])
    events = _events(reply)
    assert events[0] == "submitted" and events[-1] == "finished"
    assert "dispatched" in events
    output = [e for e in body["entries"] if e["event"] == "output"]
    assert {"stdout", "vokaflow.functions.echo"} <= {e["source"] for e in output}
    assert all(e["message"] == "a line printed by the task" for e in output)
    assert any(e["level"] == "WARNING" for e in output), "a logged line keeps its level"
    timestamps = [e["timestamp"] for e in body["entries"]]
    assert timestamps == sorted(timestamps)


def test_retries_and_the_final_failure_are_logged_for_the_task_and_the_service(api):
    task = submit(api, "raise_error", "it broke", retry_count=1)
    wait_until(api, task["task_id"])
    entries = api.get(f"/api/logs/task/{task['task_id']}").json()["entries"]
    retried = [e for e in entries if e["event"] == "retried"]
    assert len(retried) == 1 and retried[0]["level"] == "WARNING"
    assert "RuntimeError: it broke" in retried[0]["message"]
    assert entries[-1]["event"] == "finished" and entries[-1]["level"] == "ERROR"
    deadline = time.monotonic() + 10
    while True:
        errors = api.get("/api/logs", params={"level": "ERROR", "limit": 100}).json()
        mine = [e for e in errors["entries"] if e["task_id"] == task["task_id"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert mine and mine[0]["event"] == "task.failed" and mine[0]["level"] == "ERROR"
    assert all(e["level"] in ("ERROR", "CRITICAL") for e in errors["entries"])


def test_the_service_log_holds_the_services_own_entries_newest_first(api):
    reply = api.get("/api/logs", params={"level": "INFO", "limit": 1000})
    assert reply.status_code == 200
    body = reply.json()
    assert body["level"] == "INFO" and body["limit"] == 1000
    scheduler = api.get("/api/logs", params={"component": "scheduler", "limit": 1000}).json()
    assert any("scheduler started" in e["message"] for e in scheduler["entries"])
    assert all(e["component"] == "scheduler" for e in scheduler["entries"])
    gateway = api.get("/api/logs", params={"component": "gateway"}).json()["entries"]
    assert gateway and all(e["component"] == "gateway" for e in gateway)
    # newest first by arrival; writers in different processes stamp their own time, so two
    # entries written within a millisecond may arrive in the other order
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in body["entries"]]
    assert all(later >= earlier - timedelta(seconds=0.5) for later, earlier in pairwise(stamps))
    assert len(api.get("/api/logs", params={"limit": 1}).json()["entries"]) == 1


def test_another_principal_gets_404_for_a_task_log_and_none_of_its_service_entries(stack, api):
    with user_client(stack, "logowner") as owner, user_client(stack, "snoop") as snoop:
        task = submit(owner, "raise_error", "private failure", retry_count=0)
        wait_until(owner, task["task_id"])
        url = f"/api/logs/task/{task['task_id']}"
        assert snoop.get(url).status_code == 404
        assert snoop.get("/api/logs/task/no-such-task").status_code == 404
        assert owner.get(url).status_code == 200
        assert api.get(url).status_code == 200, "admins see every task's log"
        time.sleep(1.0)
        seen_by_snoop = snoop.get("/api/logs", params={"level": "DEBUG"}).json()["entries"]
        assert all(e["task_id"] != task["task_id"] for e in seen_by_snoop)
        assert all(e["component"] == "tasks" for e in seen_by_snoop)
        seen_by_owner = owner.get("/api/logs", params={"level": "ERROR"}).json()["entries"]
        assert any(e["task_id"] == task["task_id"] for e in seen_by_owner)
