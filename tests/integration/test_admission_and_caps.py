"""SLA admission and per-key priority caps, end to end on the real stack (the API tier covers
each case in detail: tests/api/test_sla_admission.py, tests/api/test_priority_caps.py)."""

from __future__ import annotations

from tests.integration.helpers import submit, user_client, wait_until

SUBMIT = "/api/high-scale-tasks/submit"
SOLE_SLOT = "MEMORY_INTENSIVE"  # one worker on the test stack


def test_a_task_that_cannot_start_within_its_sla_is_refused_with_retry_after(api):
    # 7 or more sleeps queued ahead on the one slot: the model's start is that many of
    # sleep's measured mean runs away, far past EMERGENCY's 100 ms
    held = [
        submit(api, "sleep", 0.5, priority="EMERGENCY", worker_type=SOLE_SLOT) for _ in range(8)
    ]
    body = {
        "name": "urgent",
        "function_name": "sleep",
        "args": [0],
        "priority": "EMERGENCY",
        "worker_type": SOLE_SLOT,
        "sla_policy": "reject",
    }
    refused = api.post(SUBMIT, json=body)
    assert refused.status_code == 429, refused.text
    assert refused.json()["details"]["retry_after"] >= 1
    assert refused.json()["details"]["queue_position"] >= 5
    accepted = api.post(SUBMIT, json={**body, "sla_policy": "best_effort"})
    assert accepted.status_code == 200 and "estimated_start" in accepted.json()
    for task in [*held, accepted.json()]:
        wait_until(api, task["task_id"], timeout_s=60)


def test_a_key_capped_at_high_may_not_submit_emergency_work(stack):
    capped = stack.cli("keys", "create", "--name", "capped-e2e", "--max-priority", "HIGH")
    with stack.client(api_key=capped.stdout.splitlines()[-1]) as tenant:
        refused = tenant.post(
            SUBMIT, json={"name": "x", "function_name": "noop", "priority": "EMERGENCY"}
        )
        assert refused.status_code == 400
        assert refused.json()["details"]["field"] == "priority"
        ok = tenant.post(SUBMIT, json={"name": "x", "function_name": "noop", "priority": "HIGH"})
        assert wait_until(tenant, ok.json()["task_id"])["status"] == "completed"
    with user_client(stack, "uncapped-e2e") as free:
        assert (
            free.post(
                SUBMIT, json={"name": "x", "function_name": "noop", "priority": "EMERGENCY"}
            ).status_code
            == 200
        )
