"""`concurrency_key` + `max_concurrency` at the door: both or neither, a bounded cap, every
task of one key (single, batch, schedule fire) in the key's partition, and one tenant's
key apart from another's of the same name. What runs when is the Redis tier's
(tests/redis/test_concurrency_keys.py) and the full stack's."""

from __future__ import annotations

import pytest

SUBMIT = "/api/high-scale-tasks/submit"
BATCH = "/api/high-scale-tasks/batch"


def _task(**fields: object) -> dict[str, object]:
    return {"name": "capped", "function_name": "noop", **fields}


def _refused(reply, field: str) -> None:
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "validation_error"
    assert reply.json()["details"]["field"] == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"concurrency_key": "k"}, "max_concurrency"),
        ({"max_concurrency": 2}, "concurrency_key"),
        ({"concurrency_key": "k", "max_concurrency": 0}, "max_concurrency"),
        ({"concurrency_key": "k", "max_concurrency": 1001}, "max_concurrency"),
        ({"concurrency_key": "k", "max_concurrency": True}, "max_concurrency"),
        ({"concurrency_key": "", "max_concurrency": 1}, "concurrency_key"),
        ({"concurrency_key": "k" * 257, "max_concurrency": 1}, "concurrency_key"),
    ],
)
def test_a_half_or_out_of_bounds_cap_is_refused_on_its_field(api, fields, field):
    _refused(api.post(SUBMIT, json=_task(**fields)), field)


def test_in_a_batch_the_field_is_named_by_its_task(api):
    tasks = [_task(), _task(concurrency_key="k")]
    reply = api.post(BATCH, json={"tasks": tasks})
    assert reply.status_code == 200, reply.text
    (error,) = reply.json()["errors"]
    assert (error["index"], error["details"]["field"]) == (1, "tasks[1].max_concurrency")


def test_every_task_of_a_key_lands_in_the_key_s_partition(api):
    capped = _task(concurrency_key="exports", max_concurrency=3)
    singles = [api.post(SUBMIT, json=capped).json() for _ in range(5)]
    batch = api.post(BATCH, json={"tasks": [capped] * 5}).json()["successful_tasks"]

    assert len({t["partition"] for t in [*singles, *batch]}) == 1
    assert len({t["task_id"] for t in [*singles, *batch]}) == 10


def test_a_repeated_idempotency_key_finds_the_same_keyed_task(api):
    body = _task(concurrency_key="exports", max_concurrency=1, idempotency_key="once-k")
    first, again = (api.post(SUBMIT, json=body).json() for _ in range(2))
    assert first["task_id"] == again["task_id"]


def test_the_status_shows_the_key_and_its_cap(api):
    task = api.post(SUBMIT, json=_task(concurrency_key="exports", max_concurrency=4)).json()
    status = api.get(f"/api/high-scale-tasks/status/{task['task_id']}").json()
    assert (status["concurrency_key"], status["max_concurrency"]) == ("exports", 4)


def test_a_schedule_keeps_the_cap_of_its_task(api):
    body = {
        "interval_seconds": 3600,
        "task": _task(concurrency_key="nightly", max_concurrency=1),
    }
    reply = api.post("/api/schedules", json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["task"]["concurrency_key"] == "nightly"
    assert reply.json()["task"]["max_concurrency"] == 1
    api.delete(f"/api/schedules/{reply.json()['id']}")
