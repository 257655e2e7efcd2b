"""A cap per key (`vokaflow keys create --max-priority`) or per token (its max_priority
claim) on the most urgent priority its tasks may have: any tenant could otherwise mark all
its work EMERGENCY. A key made without one keeps today's behaviour."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import JWT_CLAIMS

SUBMIT = "/api/high-scale-tasks/submit"
BATCH = "/api/high-scale-tasks/batch"


def _key(stack, name: str, *options: str) -> str:
    return str(stack.cli("keys", "create", "--name", name, *options).stdout.splitlines()[-1])


def _task(priority: str) -> dict[str, object]:
    return {"name": "capped", "function_name": "noop", "priority": priority}


def _refused_on_priority(reply, field: str = "priority") -> None:
    assert reply.status_code == 400, reply.text
    error = reply.json()
    assert error["error"] == "validation_error"
    assert error["details"]["field"] == field
    assert "HIGH" in error["details"]["error"]


@pytest.fixture(scope="module")
def capped_key(stack) -> str:
    return _key(stack, "capped-tenant", "--max-priority", "high")


@pytest.mark.parametrize("priority", ["EMERGENCY", "CRITICAL"])
def test_a_capped_key_may_not_submit_above_its_cap(stack, capped_key, priority):
    with stack.client(api_key=capped_key) as tenant:
        _refused_on_priority(tenant.post(SUBMIT, json=_task(priority)))


@pytest.mark.parametrize("priority", ["HIGH", "NORMAL", "MAINTENANCE"])
def test_a_capped_key_submits_at_its_cap_and_below(stack, capped_key, priority):
    with stack.client(api_key=capped_key) as tenant:
        reply = tenant.post(SUBMIT, json=_task(priority))
    assert reply.status_code == 200, reply.text
    assert reply.json()["priority"] == priority


def test_in_a_batch_only_the_tasks_above_the_cap_are_refused(stack, capped_key):
    tasks = [_task("NORMAL"), _task("EMERGENCY"), _task("HIGH")]
    with stack.client(api_key=capped_key) as tenant:
        reply = tenant.post(BATCH, json={"tasks": tasks}).json()
    assert reply["total_submitted"] == 2
    [error] = reply["errors"]
    assert error["index"] == 1 and error["details"]["field"] == "tasks[1].priority"


def test_a_batch_priority_above_the_cap_refuses_the_tasks_that_take_it(stack, capped_key):
    tasks = [{"name": "inherits", "function_name": "noop"}, _task("LOW")]
    with stack.client(api_key=capped_key) as tenant:
        reply = tenant.post(BATCH, json={"tasks": tasks, "batch_priority": "EMERGENCY"}).json()
    assert reply["total_submitted"] == 1
    assert [e["details"]["field"] for e in reply["errors"]] == ["tasks[0].priority"]


def test_a_schedule_s_task_above_the_cap_is_refused_when_it_is_made(stack, capped_key):
    body = {"task": _task("CRITICAL"), "interval_seconds": 3600}
    with stack.client(api_key=capped_key) as tenant:
        _refused_on_priority(tenant.post("/api/schedules", json=body), "task.priority")
        made = tenant.post("/api/schedules", json={**body, "task": _task("HIGH")})
        assert made.status_code == 201, made.text
        url = f"/api/schedules/{made.json()['id']}"
        _refused_on_priority(tenant.patch(url, json={"task": _task("EMERGENCY")}), "task.priority")
        tenant.delete(url)


def test_a_key_without_a_cap_and_the_admin_may_use_every_priority(stack, api):
    uncapped = _key(stack, "uncapped-tenant")
    with stack.client(api_key=uncapped) as tenant:
        assert tenant.post(SUBMIT, json=_task("EMERGENCY")).status_code == 200
    assert api.post(SUBMIT, json=_task("EMERGENCY")).status_code == 200


def test_keys_list_shows_each_key_s_cap(stack, capped_key):
    lines = stack.cli("keys", "list").stdout.splitlines()
    assert "MAX PRIORITY" in lines[0]
    capped = next(line for line in lines if " capped-tenant " in line)
    assert " HIGH " in capped
    assert " any " in next(line for line in lines if " admin " in line)


def test_keys_create_refuses_a_level_that_does_not_exist(stack):
    refused = stack.cli("keys", "create", "--name", "x", "--max-priority", "URGENT", check=False)
    assert refused.returncode == 2
    assert "'URGENT' is not a priority" in refused.stderr


def test_a_token_s_max_priority_claim_caps_it_as_a_key_s_does(stack):
    token = stack.cli("token", "create", "--sub", "capped-bearer", "--max-priority", "HIGH")
    with stack.client(api_key="") as bearer:
        bearer.headers["Authorization"] = f"Bearer {token.stdout.splitlines()[-1]}"
        _refused_on_priority(bearer.post(SUBMIT, json=_task("EMERGENCY")))
        assert bearer.post(SUBMIT, json=_task("HIGH")).status_code == 200


def test_a_token_capped_at_a_level_that_does_not_exist_is_refused(stack):
    now = int(time.time())
    claims = {"sub": "kim", "nbf": now, "exp": now + 600, "max_priority": "URGENT", **JWT_CLAIMS}
    token = jwt.encode(claims, (stack.home / "jwt_secret").read_text().strip())
    with stack.client(api_key="") as bearer:
        bearer.headers["Authorization"] = f"Bearer {token}"
        assert bearer.get("/api/high-scale-tasks/priorities").status_code == 401
