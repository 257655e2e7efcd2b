"""An idempotency key makes a repeated submit return the first task or batch."""

from __future__ import annotations

import uuid

from tests.integration.helpers import submit_batch, wait_until

SUBMIT = "/api/high-scale-tasks/submit"


def _body(key: str, **fields) -> dict:
    return {"name": "once", "function_name": "noop", "idempotency_key": key, **fields}


def test_the_same_key_twice_returns_the_first_task_and_runs_it_once(api):
    key = f"order-{uuid.uuid4()}"
    first = api.post(SUBMIT, json=_body(key))
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    wait_until(api, first.json()["task_id"])
    again = api.post(SUBMIT, json=_body(key, name="a different name"))
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["task_id"] == first.json()["task_id"]
    assert again.json()["status"] == "completed" and again.json()["name"] == "once"
    status = api.get(f"/api/high-scale-tasks/status/{first.json()['task_id']}").json()
    assert status["attempts"] == 1


def test_different_keys_and_different_principals_make_different_tasks(stack, api):
    key = f"order-{uuid.uuid4()}"
    mine = api.post(SUBMIT, json=_body(key)).json()["task_id"]
    other_key = api.post(SUBMIT, json=_body(key + "-b")).json()["task_id"]
    created = stack.cli("keys", "create", "--name", "erin")
    with stack.client(api_key=created.stdout.strip().splitlines()[-1]) as erin:
        theirs = erin.post(SUBMIT, json=_body(key)).json()["task_id"]
    assert len({mine, other_key, theirs}) == 3


def test_a_repeated_key_takes_no_rate_limit_token(api):
    key = f"metered-{uuid.uuid4()}"
    body = _body(key, function_name="metered_noop")  # the test stack allows 2/s, burst 5
    first = api.post(SUBMIT, json=body)
    assert first.status_code == 200
    replies = [api.post(SUBMIT, json=body) for _ in range(10)]
    assert {r.status_code for r in replies} == {200}
    assert {r.json()["task_id"] for r in replies} == {first.json()["task_id"]}


def test_the_same_batch_key_twice_returns_the_first_batch_without_new_tasks(api):
    key = f"import-{uuid.uuid4()}"
    tasks = [{"name": f"t{i}", "function_name": "noop"} for i in range(3)]
    tasks.append({"name": "bad", "function_name": "no_such_function"})
    first = submit_batch(api, tasks, idempotency_key=key)
    again = api.post("/api/high-scale-tasks/batch", json={"tasks": tasks, "idempotency_key": key})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    replay = again.json()
    assert replay["batch_id"] == first["batch_id"]
    assert replay["total_submitted"] == 3 and replay["total_errors"] == 1
    assert [t["task_id"] for t in replay["successful_tasks"]] == [
        t["task_id"] for t in first["successful_tasks"]
    ]
    assert replay["errors"][0]["details"]["field"] == "tasks[3].function_name"


def test_a_task_key_inside_a_batch_is_refused_in_favour_of_the_batch_key(api):
    batch = submit_batch(api, [{"name": "x", "function_name": "noop", "idempotency_key": "k"}])
    assert batch["total_submitted"] == 0
    assert batch["errors"][0]["details"]["field"] == "tasks[0].idempotency_key"
