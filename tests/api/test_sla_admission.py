"""Admission by SLA: `sla_policy: reject` refuses, with 429 and retry_after, a task that the
measured backlog and pool throughput say would start past its priority's SLA; every submit
answer gives `estimated_start` from the same model.

In this tier no scheduler reports its pools, so a pool's capacity is 1, and no function
has a measured run time, so each counts 1 s: a task starts (tasks ahead) × 1 s after it is
ready. Other tests of the tier leave tasks queued, so each test reads its pool's backlog
from a probe's queue_position instead of assuming an empty pool."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from vokaflow.api.services import STATS_REFRESH_S

SUBMIT = "/api/high-scale-tasks/submit"
POOL = "NETWORK_INTENSIVE"
HELD_POOL = "MEMORY_INTENSIVE"  # no other test of the tier uses it


def _task(priority: str, **fields: object) -> dict[str, object]:
    return {
        "name": "sla",
        "function_name": "noop",
        "priority": priority,
        "worker_type": POOL,
        **fields,
    }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_task_that_would_start_past_its_sla_is_refused_and_not_written(api):
    probe = api.post(SUBMIT, json=_task("EMERGENCY")).json()  # at least one ahead now
    refused = api.post(SUBMIT, json=_task("EMERGENCY", sla_policy="reject"))
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["error"] == "rate_limit_exceeded"
    details = body["details"]
    assert details["sla_seconds"] == 0.1
    assert details["queue_position"] >= probe["queue_position"] + 1
    assert details["retry_after"] >= 1
    assert refused.headers["Retry-After"] == str(details["retry_after"])
    assert _epoch(details["estimated_start"]) >= time.time() + 0.5
    after = api.post(SUBMIT, json=_task("EMERGENCY")).json()
    assert after["queue_position"] == probe["queue_position"] + 1  # the refused one is not there


def test_a_task_that_would_start_within_its_sla_is_accepted(api):
    reply = api.post(SUBMIT, json=_task("MAINTENANCE", sla_policy="reject"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "queued"


def test_best_effort_is_the_default_and_accepts_whatever_the_backlog(api):
    api.post(SUBMIT, json=_task("EMERGENCY"))
    for body in (_task("EMERGENCY"), _task("EMERGENCY", sla_policy="best_effort")):
        assert api.post(SUBMIT, json=body).status_code == 200


def test_estimated_start_follows_the_backlog_and_comes_before_the_completion(api):
    before = time.time()
    reply = api.post(SUBMIT, json=_task("LOW")).json()
    start, end = _epoch(reply["estimated_start"]), _epoch(reply["estimated_completion"])
    expected = before + reply["queue_position"] * 1.0
    assert expected - 0.5 <= start <= expected + 2.0
    assert end == pytest.approx(start + 1.0, abs=0.01)  # its own mean run after its start


def test_a_delayed_task_is_estimated_to_start_no_sooner_than_its_run_at(api):
    reply = api.post(SUBMIT, json=_task("HIGH", delay_seconds=60)).json()
    assert _epoch(reply["estimated_start"]) >= _epoch(reply["run_at"]) - 0.01


def test_a_batch_answers_when_its_first_task_should_start(api):
    tasks = [_task("BATCH"), _task("BATCH")]
    reply = api.post("/api/high-scale-tasks/batch", json={"tasks": tasks}).json()
    assert _epoch(reply["estimated_start"]) <= _epoch(reply["estimated_completion"])


@pytest.mark.parametrize("policy", ["reject", "always"])
def test_sla_policy_in_a_batch_task_is_refused_naming_the_field(api, policy):
    tasks = [_task("HIGH", sla_policy=policy)]
    reply = api.post("/api/high-scale-tasks/batch", json={"tasks": tasks}).json()
    assert reply["total_submitted"] == 0
    assert reply["errors"][0]["details"]["field"] == "tasks[0].sla_policy"


def test_an_unknown_sla_policy_is_a_400_on_that_field(api):
    reply = api.post(SUBMIT, json=_task("HIGH", sla_policy="always"))
    assert reply.status_code == 400
    assert reply.json()["details"]["field"] == "sla_policy"


def test_a_replayed_idempotency_key_returns_its_task_even_past_the_sla_now(api):
    body = _task("EMERGENCY", sla_policy="reject", idempotency_key="sla-replay")
    first = api.post(SUBMIT, json=body)
    if first.status_code == 429:  # a backlog from other tests: admit it without the policy
        first = api.post(SUBMIT, json={**body, "sla_policy": "best_effort"})
    api.post(SUBMIT, json=_task("EMERGENCY"))  # now one more ahead of any new one
    again = api.post(SUBMIT, json=body)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["task_id"] == first.json()["task_id"]


@pytest.fixture
def one_slot_held_for_10_s(stack) -> Iterator[None]:
    """The heartbeat of a scheduler whose pool has one slot, held by a task expected to
    run 10 s more; the gateway reads it within its refresh time."""
    services, portal = stack.services, stack.portal
    state = {"capacity": 1, "active": 1, "busy_until": [time.time() + 10]}
    portal.call(services.redis.hset, services.keys.pool_states, HELD_POOL, json.dumps(state))
    time.sleep(STATS_REFRESH_S + 0.1)
    yield
    portal.call(services.redis.hdel, services.keys.pool_states, HELD_POOL)
    time.sleep(STATS_REFRESH_S + 0.1)


def test_a_slot_held_by_a_long_task_refuses_even_an_emergency_with_nothing_queued(
    api, one_slot_held_for_10_s
):
    refused = api.post(SUBMIT, json=_task("EMERGENCY", worker_type=HELD_POOL, sla_policy="reject"))
    assert refused.status_code == 429, refused.text
    details = refused.json()["details"]
    assert details["queue_position"] == 0
    assert _epoch(details["estimated_start"]) >= time.time() + 8
    accepted = api.post(SUBMIT, json=_task("EMERGENCY", worker_type=HELD_POOL)).json()
    assert accepted["queue_position"] == 0
    assert _epoch(accepted["estimated_start"]) >= time.time() + 8
