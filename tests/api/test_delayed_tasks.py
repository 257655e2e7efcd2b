"""Delayed tasks over the API (nothing runs here): the 400s of run_at and delay_seconds, the
status `scheduled` with its run_at, cancel while scheduled, tenancy, batches and idempotency.
A delayed task running after its delay: tests/integration/test_delayed_tasks.py."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.api.submits import SUBMIT
from tests.integration.helpers import status, submit, submit_batch, user_client


def _in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def _refused(api: Any, **when: Any) -> dict[str, Any]:
    reply = api.post(SUBMIT, json={"name": "later", "function_name": "noop", **when})
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    assert body["error"] == "validation_error"
    return body


def test_a_delayed_task_is_scheduled_with_its_run_at_and_nobody_ahead(api):
    task = submit(api, "noop", delay_seconds=3600)
    assert task["status"] == "scheduled" and task["queue_position"] == 0
    run_at = datetime.fromisoformat(task["run_at"]).replace(tzinfo=timezone.utc)
    assert abs(run_at.timestamp() - (time.time() + 3600)) < 5
    seen = status(api, task["task_id"])
    assert (seen["status"], seen["run_at"], seen["queue_position"]) == (
        "scheduled",
        task["run_at"],
        None,
    )


def test_run_at_with_an_offset_is_kept_as_utc(api):
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    east = due.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    task = submit(api, "noop", run_at=east)
    assert task["run_at"] == due.replace(tzinfo=None).isoformat(timespec="microseconds")


def test_a_task_without_delay_is_queued_without_run_at(api):
    task = submit(api, "noop")
    assert task["status"] == "queued" and task["run_at"] is None
    assert status(api, task["task_id"])["run_at"] is None


def test_run_at_a_few_seconds_ago_runs_now(api):
    task = submit(api, "noop", run_at=_in(-5))
    assert task["status"] == "queued" and task["run_at"] is None


def test_bad_delays_are_400_on_their_field(api):
    assert _refused(api, run_at=_in(60), delay_seconds=60)["details"]["field"] == "delay_seconds"
    assert _refused(api, run_at=_in(-3600))["details"]["field"] == "run_at"
    assert _refused(api, run_at=_in(31 * 24 * 3600))["details"]["field"] == "run_at"
    assert _refused(api, delay_seconds=31 * 24 * 3600)["details"]["field"] == "delay_seconds"
    assert _refused(api, delay_seconds=-1)["details"]["field"] == "delay_seconds"
    assert _refused(api, run_at="next tuesday")["details"]["field"] == "run_at"
    assert _refused(api, run_at=1_900_000_000)["details"]["field"] == "run_at"


def test_cancel_while_scheduled_ends_it_and_a_second_cancel_is_409(api):
    task = submit(api, "noop", delay_seconds=600)
    url = f"/api/high-scale-tasks/cancel/{task['task_id']}"
    assert api.delete(url).status_code == 200
    assert status(api, task["task_id"])["status"] == "cancelled"
    again = api.delete(url)
    assert again.status_code == 409 and again.json()["details"]["status"] == "cancelled"
    entries = api.get(f"/api/logs/task/{task['task_id']}").json()["entries"]
    assert [e["event"] for e in entries if e["event"] == "task.cancelled"] == ["task.cancelled"]


def test_another_tenant_gets_404_on_a_scheduled_task(stack, api):
    with user_client(stack, "dora") as dora, user_client(stack, "emil") as emil:
        task = submit(dora, "noop", delay_seconds=600)
        for reply in (
            emil.get(f"/api/high-scale-tasks/status/{task['task_id']}"),
            emil.delete(f"/api/high-scale-tasks/cancel/{task['task_id']}"),
        ):
            assert reply.status_code == 404 and reply.json()["error"] == "not_found"
        assert status(dora, task["task_id"])["status"] == "scheduled"


def test_a_replayed_idempotency_key_returns_the_scheduled_task(api):
    first = submit(api, "noop", delay_seconds=600, idempotency_key="delayed-once")
    again = api.post(
        SUBMIT,
        json={
            "name": "noop",
            "function_name": "noop",
            "delay_seconds": 600,
            "idempotency_key": "delayed-once",
        },
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    body = again.json()
    assert (body["task_id"], body["status"], body["run_at"]) == (
        first["task_id"],
        "scheduled",
        first["run_at"],
    )


def test_each_task_of_a_batch_takes_its_own_delay_and_a_bad_one_is_listed(api):
    batch = submit_batch(
        api,
        [
            {"name": "soon", "function_name": "noop", "delay_seconds": 600},
            {"name": "now", "function_name": "noop"},
            {"name": "both", "function_name": "noop", "delay_seconds": 1, "run_at": _in(5)},
        ],
    )
    assert batch["total_submitted"] == 2
    (error,) = batch["errors"]
    assert (error["index"], error["details"]["field"]) == (2, "tasks[2].delay_seconds")
    soon, now = (status(api, t["task_id"]) for t in batch["successful_tasks"])
    assert (soon["status"], now["status"]) == ("scheduled", "queued")
    assert soon["run_at"] is not None and now["run_at"] is None


def test_a_scheduled_task_is_counted_as_scheduled_not_as_pending(api):
    before = api.get("/api/high-scale-tasks/metrics").json()
    submit(api, "noop", delay_seconds=600)
    after = api.get("/api/high-scale-tasks/metrics").json()
    assert after["total_pending_tasks"] == before["total_pending_tasks"]
    assert after["scheduled_tasks"] == before["scheduled_tasks"] + 1
