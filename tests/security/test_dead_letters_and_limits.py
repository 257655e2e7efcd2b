"""Findings 4 and 8: a function's category (so its rate limit) is its own, requeueing a
dead letter is admitted like a submit, and listing dead letters reads only the caller's."""

from __future__ import annotations

import time
import uuid

from tests.integration.helpers import submit, wait_until
from tests.security.attacks import post_task, refused_field
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync


def test_a_task_cannot_be_charged_to_another_category(stack, tenant):
    client = tenant()
    reply = post_task(client, "embed_text", kwargs={"texts": ["x"]}, category="notifications")
    assert refused_field(reply) == "category"
    assert post_task(client, "noop", category="system").status_code == 200


def test_requeueing_a_dead_letter_takes_a_token_of_its_category(stack, tenant):
    """The test stack limits `metered` to 2/s, burst 5: requeues past the burst get 429."""
    client = tenant()
    failed = [submit(client, "metered_fail", f"f{i}", retry_count=0) for i in range(2)]
    for task in failed:
        wait_until(client, task["task_id"])
    statuses = []
    for _ in range(8):
        while (
            client.post(
                "/api/high-scale-tasks/submit", json={"name": "x", "function_name": "metered_noop"}
            ).status_code
            == 200
        ):
            pass  # the bucket is empty now
        reply = client.post(f"/api/high-scale-tasks/dead-letters/{failed[0]['task_id']}/requeue")
        statuses.append(reply.status_code)
        if reply.status_code == 429:
            assert reply.json()["details"]["retry_after"] >= 1
            break
    assert 429 in statuses, statuses


def test_requeue_is_refused_while_the_service_drains(stack, tenant):
    client = tenant()
    failed = submit(client, "raise_error", "x", retry_count=0)
    wait_until(client, failed["task_id"])
    redis = connect_sync(stack.redis_url)
    draining = Keys(stack.key_prefix, 16).draining
    redis.set(draining, "1")
    try:
        time.sleep(0.7)  # gateways read the flag every 0.5 s
        reply = client.post(f"/api/high-scale-tasks/dead-letters/{failed['task_id']}/requeue")
        assert reply.status_code == 503, reply.text
    finally:
        redis.delete(draining)
        time.sleep(0.7)


def test_listing_dead_letters_reads_only_the_caller_s(stack, api, tenant):
    """Thousands of other tenants' dead letters must not be read for one tenant's list."""
    keys = Keys(stack.key_prefix, 16)
    redis = connect_sync(stack.redis_url, decode_responses=True)
    others = [str(uuid.uuid4()) for _ in range(2000)]
    pipe = redis.pipeline(transaction=False)
    for task_id in others:
        pipe.zadd(keys.dead_letters(keys.partition(task_id)), {task_id: time.time() * 1000})
    pipe.execute()
    try:
        client = tenant()
        mine = submit(client, "raise_error", "mine", retry_count=0)
        wait_until(client, mine["task_id"])
        before = redis.info("commandstats").get("cmdstat_hget", {}).get("calls", 0)
        reply = client.get("/api/high-scale-tasks/dead-letters", params={"limit": 1000})
        after = redis.info("commandstats").get("cmdstat_hget", {}).get("calls", 0)
        assert [t["task_id"] for t in reply.json()["dead_letters"]] == [mine["task_id"]]
        assert reply.json()["total"] == 1
        assert after - before < 100, "the listing read other tenants' records"
    finally:
        pipe = redis.pipeline(transaction=False)
        for task_id in others:
            pipe.zrem(keys.dead_letters(keys.partition(task_id)), task_id)
        pipe.execute()
