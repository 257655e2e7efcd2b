"""A batch submission that fails between its steps (begin, write the tasks, commit): the
gateway answers 503 there, as a Redis outage would (VOKAFLOW_FAILPOINTS in the session's
stack). Whatever the step, a retry with the same idempotency key answers with exactly the
tasks that exist, the batch reaches a final state, and without a key the scheduler finishes
the batch with the tasks that were written."""

from __future__ import annotations

import time
import uuid

import pytest

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync

BATCH = "/api/high-scale-tasks/batch"
STEPS = ("after_begin", "after_tasks", "after_commit")


def _tasks(step: str, n: int = 5) -> list[dict]:
    return [{"name": step, "function_name": "noop", "retry_count": 0} for _ in range(n)]


def _final(chaos_api, batch_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        body = chaos_api.get(f"{BATCH}/{batch_id}").json()
        if body.get("status") not in ("running", "submitting", None):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


@pytest.mark.parametrize("step", STEPS)
def test_a_retry_with_the_same_key_ends_with_exactly_the_tasks_it_lists(chaos_api, step):
    body = {"tasks": _tasks(step), "idempotency_key": f"{step}-{uuid.uuid4()}"}
    first = chaos_api.post(BATCH, json=body)
    assert first.status_code == 503, first.text
    assert first.json()["details"]["component"] == "redis"
    retry = chaos_api.post(BATCH, json=body)
    assert retry.status_code == 200, retry.text
    listed = [t["task_id"] for t in retry.json()["successful_tasks"]]
    assert len(listed) == retry.json()["total_submitted"] == 5
    for task_id in listed:
        status = chaos_api.get(f"/api/high-scale-tasks/status/{task_id}")
        assert status.status_code == 200, f"{task_id} is listed but does not exist"
    final = _final(chaos_api, retry.json()["batch_id"])
    assert final["status"] == "completed" and final["completed"] == final["total"] == 5
    again = chaos_api.post(BATCH, json=body)
    assert [t["task_id"] for t in again.json()["successful_tasks"]] == listed


def test_an_unfinished_batch_is_finished_only_by_the_request_that_began_it(chaos_api):
    key = f"after_begin-{uuid.uuid4()}"
    first = {"tasks": _tasks("after_begin", 2), "idempotency_key": key}
    assert chaos_api.post(BATCH, json=first).status_code == 503
    other = chaos_api.post(BATCH, json={"tasks": _tasks("other", 3), "idempotency_key": key})
    assert other.status_code == 409, other.text
    retry = chaos_api.post(BATCH, json=first)
    assert retry.status_code == 200 and retry.json()["total_submitted"] == 2


def _interrupted_batch(chaos_stack, step: str) -> str:
    """The id of the keyless batch whose first task is named ``step``, still submitting."""
    keys = Keys(chaos_stack.key_prefix, 16)
    redis = connect_sync(chaos_stack.redis_url, decode_responses=True)
    for batch_id in redis.zrange(keys.batches_submitting, 0, -1):
        first = redis.lindex(keys.batch_tasks(batch_id), 0)
        spec = redis.hget(keys.task(first), "spec") if first else None
        if redis.hget(keys.batch(batch_id), "status") == "submitting" and (
            spec is None or f'"name":"{step}"' in spec
        ):
            return str(batch_id)
    raise AssertionError("no interrupted batch found")


@pytest.mark.parametrize(("step", "kept"), [("after_begin", 0), ("after_tasks", 3)])
def test_without_a_key_the_scheduler_finishes_the_batch_with_the_tasks_written(
    chaos_stack, chaos_api, step, kept
):
    keys = Keys(chaos_stack.key_prefix, 16)
    redis = connect_sync(chaos_stack.redis_url, decode_responses=True)
    for batch_id in redis.zrange(keys.batches_submitting, 0, -1):
        redis.zrem(keys.batches_submitting, batch_id)  # earlier tests' leftovers, if any
    reply = chaos_api.post(BATCH, json={"tasks": _tasks(step, 3)})
    assert reply.status_code == 503, reply.text
    batch_id = _interrupted_batch(chaos_stack, step)
    final = _final(chaos_api, batch_id)  # the grace period is 2 s in the test stack
    assert final["total"] == kept
    assert final["status"] == ("completed" if kept else "aborted")
    assert final["completed"] == kept
    assert redis.zscore(keys.batches_submitting, batch_id) is None
