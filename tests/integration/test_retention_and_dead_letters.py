"""Finished records expire after the retention period; failures after all retries become
dead letters that can be listed and re-queued."""

from __future__ import annotations

import redis

from tests.integration.helpers import status, submit, wait_until
from vokaflow.store.keys import Keys

DAY_S = 24 * 3600


def _dead_letter_ids(api, **params) -> list[str]:
    reply = api.get("/api/high-scale-tasks/dead-letters", params={"limit": 1000, **params})
    assert reply.status_code == 200, reply.text
    return [task["task_id"] for task in reply.json()["dead_letters"]]


def _ttl_s(stack, task_id: str) -> int:
    client = redis.Redis.from_url(stack.redis_url)
    return int(client.ttl(Keys(stack.key_prefix, 16).task(task_id)))


def test_a_task_that_failed_after_all_retries_is_listed_as_a_dead_letter(api):
    accepted = submit(api, "raise_error", "dead on arrival", retry_count=1)
    done = wait_until(api, accepted["task_id"])
    assert done["status"] == "failed" and done["attempts"] == 2
    reply = api.get("/api/high-scale-tasks/dead-letters", params={"limit": 1000})
    listed = {t["task_id"]: t for t in reply.json()["dead_letters"]}
    assert listed[accepted["task_id"]]["error"]["message"] == "dead on arrival"
    assert reply.json()["total"] >= 1


def test_a_completed_task_is_not_a_dead_letter(api):
    completed = submit(api, "noop")
    wait_until(api, completed["task_id"])
    assert completed["task_id"] not in _dead_letter_ids(api)


def test_a_requeued_dead_letter_runs_again_with_a_fresh_set_of_attempts(api):
    accepted = submit(api, "raise_error", "still broken", retry_count=0)
    wait_until(api, accepted["task_id"])
    reply = api.post(f"/api/high-scale-tasks/dead-letters/{accepted['task_id']}/requeue")
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "queued" and reply.json()["attempts"] == 0
    if accepted["task_id"] in _dead_letter_ids(api):
        # it was taken off the list, and has already run and failed again since
        rerun = api.get(f"/api/high-scale-tasks/status/{accepted['task_id']}").json()
        assert rerun["status"] == "failed" and rerun["attempts"] == 1
    again = wait_until(api, accepted["task_id"])
    assert again["status"] == "failed" and again["attempts"] == 1
    assert accepted["task_id"] in _dead_letter_ids(api)


def test_requeue_refuses_a_task_that_is_not_a_dead_letter_and_an_unknown_one(api):
    completed = submit(api, "noop")
    wait_until(api, completed["task_id"])
    refused = api.post(f"/api/high-scale-tasks/dead-letters/{completed['task_id']}/requeue")
    assert refused.status_code == 409
    assert refused.json()["details"]["status"] == "completed"
    missing = api.post("/api/high-scale-tasks/dead-letters/no-such-task/requeue")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_a_principal_sees_and_requeues_only_its_own_dead_letters(stack, api):
    created = stack.cli("keys", "create", "--name", "dora")
    with stack.client(api_key=created.stdout.strip().splitlines()[-1]) as dora:
        mine = submit(dora, "raise_error", "dora's", retry_count=0)
        wait_until(dora, mine["task_id"])
        admins = submit(api, "raise_error", "admin's", retry_count=0)
        wait_until(api, admins["task_id"])
        seen = _dead_letter_ids(dora)
        assert mine["task_id"] in seen and admins["task_id"] not in seen
        other = dora.post(f"/api/high-scale-tasks/dead-letters/{admins['task_id']}/requeue")
        assert other.status_code == 404
    assert {mine["task_id"], admins["task_id"]} <= set(_dead_letter_ids(api))


def test_a_finished_record_expires_after_the_retention_period_and_a_queued_one_never(stack, api):
    finished = submit(api, "noop")
    wait_until(api, finished["task_id"])
    assert 0 < _ttl_s(stack, finished["task_id"]) <= DAY_S
    waiting = submit(api, "sleep", 30, worker_type="MEMORY_INTENSIVE", priority="BACKGROUND")
    try:
        assert status(api, waiting["task_id"])["status"] in {"queued", "running"}
        assert _ttl_s(stack, waiting["task_id"]) == -1
    finally:
        api.delete(f"/api/high-scale-tasks/cancel/{waiting['task_id']}")
    assert 0 < _ttl_s(stack, waiting["task_id"]) <= DAY_S
