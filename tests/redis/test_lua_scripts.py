"""The Lua scripts' contracts on a real Redis: the token bucket against its in-memory twin's
rules, starvation promotion with an injected clock, and where a requeued dead letter's
queue wait counts from."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from vokaflow.api.views import task_status_view
from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.priority import queue_score
from vokaflow.domain.task import TaskField, TaskSpec
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.scheduler.policy import PROMOTION_CEILING, StarvationRule
from vokaflow.store.batch_store import BatchRecord, BatchStore
from vokaflow.store.dead_letters import DeadLetterStore
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import InMemoryRateLimiter, RedisRateLimiter
from vokaflow.store.task_store import TaskStore

LIMITS = {"ml": RateLimit(limit_per_second=1, burst=4)}


@pytest.fixture
async def redis_and_keys(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfscripts-{uuid.uuid4().hex[:6]}", 16)
    yield client, keys
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(params=["redis", "memory"])
def limiter(request, redis_and_keys):
    if request.param == "memory":
        return InMemoryRateLimiter(LIMITS)
    client, keys = redis_and_keys
    return RedisRateLimiter(client, keys, LIMITS)


async def test_both_buckets_admit_the_burst_then_refuse(limiter):
    granted = [(await limiter.take("ml", 1, partial=False, owner="ann")).granted for _ in range(6)]
    assert granted == [1, 1, 1, 1, 0, 0]


async def test_both_buckets_grant_part_of_a_batch_and_count_usage(limiter):
    decision = await limiter.take("ml", 10, partial=True, owner="ann")
    assert (decision.granted, decision.refused, decision.retry_after_s) == (4, 6, 6)
    assert decision.reset_at_s == pytest.approx(decision.now_s + 4, abs=0.1)
    assert await limiter.usage("ml") == 4


async def test_both_buckets_count_each_owner_s_usage_apart(limiter):
    await limiter.take("ml", 3, partial=True, owner="ann")
    await limiter.take("ml", 1, partial=True, owner="bob")
    assert await limiter.usage("ml") == 4
    assert (await limiter.usage("ml", "ann"), await limiter.usage("ml", "bob")) == (3, 1)


def _task(keys: Keys, priority: Priority, created_at: float) -> TaskSpec:
    task_id = str(uuid.uuid4())
    return TaskSpec(
        task_id=task_id,
        name="t",
        function_name="noop",
        args=[],
        kwargs={},
        priority=priority,
        worker_type=WorkerType.GENERAL_PURPOSE,
        category="system",
        timeout_s=300,
        max_retries=0,
        metadata={},
        created_at=created_at,
        partition=keys.partition(task_id),
        owner="test",
    )


async def test_promotion_in_redis_follows_the_starvation_rule(redis_and_keys):
    client, keys = redis_and_keys
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    rule = StarvationRule(factor=4.0)
    now_ms = 1_800_000_000_000
    old_batch = _task(keys, Priority.BATCH, (now_ms - 1_300_000) / 1000)  # waited > 4 x 300 s
    # in another partition's queue: in the same one, fair share would place it next to the
    # head (old_batch), where its score reads as the head's wait, and it would be promoted too
    new_batch = _task(keys, Priority.BATCH, (now_ms - 1_000) / 1000)
    while new_batch.partition == old_batch.partition:
        new_batch = _task(keys, Priority.BATCH, (now_ms - 1_000) / 1000)
    old_high = _task(keys, Priority.HIGH, (now_ms - 10**7) / 1000)  # HIGH is the ceiling
    await tasks.submit([old_batch, new_batch, old_high])
    waits = [rule.wait_before_promotion_ms(level) for level in range(8)]
    assert await dispatch.promote_starving(now_ms, waits, PROMOTION_CEILING) == 1
    priorities = {
        t.task_id: TaskSpec.from_record(await tasks.get(t.task_id)).priority
        for t in (old_batch, new_batch, old_high)
    }
    assert priorities == {
        old_batch.task_id: Priority.LOW,
        new_batch.task_id: Priority.BATCH,
        old_high.task_id: Priority.HIGH,
    }
    assert await dispatch.promote_starving(now_ms + 1000, waits, PROMOTION_CEILING) == 0


async def test_a_promoted_task_is_reported_and_counted_at_its_new_priority(redis_and_keys):
    client, keys = redis_and_keys
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    now_ms = 1_800_000_000_000
    starving = _task(keys, Priority.BATCH, (now_ms - 1_300_000) / 1000)
    await tasks.submit([starving])
    waits = [StarvationRule(factor=4.0).wait_before_promotion_ms(level) for level in range(8)]
    assert await dispatch.promote_starving(now_ms, waits, PROMOTION_CEILING) == 1

    assert task_status_view(await tasks.get(starving.task_id), "n").priority == Priority.LOW
    counts = await dispatch.level_counts([WorkerType.GENERAL_PURPOSE])
    by_level = counts[WorkerType.GENERAL_PURPOSE][starving.partition].counts
    assert (by_level[Priority.LOW.level], by_level[Priority.BATCH.level]) == (1, 0)
    everything = ClaimRequest(WorkerType.GENERAL_PURPOSE, starving.partition, float("inf"), 1)
    (claimed,) = await dispatch.claim([everything], time.time())
    assert claimed.spec.priority == Priority.LOW  # what its queue wait and SLA are measured by


async def test_a_record_written_before_the_score_was_the_one_truth_still_reads(redis_and_keys):
    """Records already in Redis during an upgrade carry priority and level beside the score;
    only the score is read, and a promotion of such a record had rewritten it too."""
    client, keys = redis_and_keys
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    held = replace(_task(keys, Priority.BATCH, time.time()), hold=True)
    await tasks.submit([held])
    legacy = {TaskField.LEGACY_PRIORITY: "BATCH", TaskField.LEGACY_LEVEL: "5"}
    promoted_score = repr(queue_score(Priority.LOW, held.created_at))
    await client.hset(keys.task(held.task_id), mapping={**legacy, TaskField.SCORE: promoted_score})

    assert await dispatch.release_held(held.task_id, int(time.time() * 1000))
    assert TaskSpec.from_record(await tasks.get(held.task_id)).priority == Priority.LOW
    everything = ClaimRequest(WorkerType.GENERAL_PURPOSE, held.partition, float("inf"), 1)
    (claimed,) = await dispatch.claim([everything], time.time())
    assert claimed.spec.priority == Priority.LOW


async def test_a_requeued_dead_letter_s_queue_wait_counts_from_its_requeue(redis_and_keys):
    client, keys = redis_and_keys
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    dead_letters = DeadLetterStore(client, keys)
    created_at = time.time() - 3600
    task = _task(keys, Priority.NORMAL, created_at)
    await tasks.submit([task])
    everything = ClaimRequest(WorkerType.GENERAL_PURPOSE, task.partition, float("inf"), 10)

    (first,) = await dispatch.claim([everything], time.time())
    assert (first.requeued_at, first.queued_since) == (0.0, created_at)

    # as finish.lua leaves a task that failed its last attempt
    await client.hset(keys.task(task.task_id), "status", "failed")
    await client.zadd(keys.dead_letters(task.partition), {task.task_id: time.time() * 1000})
    requeued = time.time()
    outcome, record = await dead_letters.requeue(task.task_id)
    assert outcome == "requeued"
    assert record is not None and (record["status"], record["attempts"]) == ("queued", "0")
    (again,) = await dispatch.claim([everything], time.time())
    assert again.attempt == 1 and again.spec.created_at == created_at
    assert again.queued_since == again.requeued_at == pytest.approx(requeued, abs=1)


async def test_a_claimed_task_is_in_the_running_set_at_its_dispatch_time(redis_and_keys):
    client, keys = redis_and_keys
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    task = _task(keys, Priority.NORMAL, time.time())
    await tasks.submit([task])
    everything = ClaimRequest(WorkerType.GENERAL_PURPOSE, task.partition, float("inf"), 10)
    now = time.time()

    (claimed,) = await dispatch.claim([everything], now)

    assert claimed.task_id == task.task_id
    assert await client.zscore(keys.running(task.partition), task.task_id) == pytest.approx(now)
    dispatched_at = await client.hget(keys.task(task.task_id), "dispatched_at")
    assert float(dispatched_at) == pytest.approx(now)


async def test_thousands_of_tasks_go_in_and_out_of_one_queue_in_one_call_each(tier_redis_url):
    # submit.lua and claim.lua write a call's queue entries, and take them out, in slices
    # of a thousand (Lua's unpack stops at 8,000 values): a call past that keeps every task
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfbulk-{uuid.uuid4().hex[:6]}", 1)
    try:
        tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
        now = time.time()
        submitted = [_task(keys, Priority.NORMAL, now) for _ in range(4500)]
        await tasks.submit(submitted)
        queue = keys.queue(0, WorkerType.GENERAL_PURPOSE)
        assert await client.zcard(queue) == 4500

        everything = ClaimRequest(WorkerType.GENERAL_PURPOSE, 0, float("inf"), 5000)
        claimed = await dispatch.claim([everything], time.time())

        assert [c.task_id for c in claimed] == [t.task_id for t in submitted]
        assert {c.attempt for c in claimed} == {1}
        assert await client.zcard(queue) == 0
        assert await client.zcard(keys.running(0)) == 4500
        last = await client.hmget(keys.task(submitted[-1].task_id), "status", "attempts")
        assert last == ["running", "1"]
    finally:
        async for key in client.scan_iter(match=f"{keys.prefix}:*"):
            await client.delete(key)
        await client.aclose()


def _batch(batch_id: str, total: int) -> BatchRecord:
    return BatchRecord(
        batch_id, "ann", "parallel", total, total, time.time(), None, None, "GENERAL_PURPOSE"
    )


async def test_a_batch_begins_whole_once_and_its_submission_keeps_the_tasks_written(
    redis_and_keys,
):
    client, keys = redis_and_keys
    batches, tasks = BatchStore(client, keys), TaskStore(client, keys)
    written = [_task(keys, Priority.NORMAL, time.time()) for _ in range(2)]
    ids = [t.task_id for t in written] + ["never-written"]
    assert await batches.begin(_batch("b1", 3), ids, [], "[]", "digest")
    assert not await batches.begin(_batch("b1", 9), ["other"], [], "[]", "digest")
    assert (await batches.get("b1"))["status"] == "submitting"
    assert await batches.task_ids("b1", 0) == ids
    await tasks.submit(written)
    await batches.commit_written("b1")
    record = await batches.get("b1")
    assert (record["status"], record["total"]) == ("running", "2")
    assert await batches.task_ids("b1", 0) == ids[:2]
    assert "never-written" in record["errors"]
    assert await batches.submitting_since(time.time() + 1) == []


async def test_a_begun_batch_whose_tasks_were_never_written_closes_as_aborted(redis_and_keys):
    client, keys = redis_and_keys
    batches = BatchStore(client, keys)
    await batches.begin(_batch("b2", 2), ["x1", "x2"], ["x2"], "[]", "d")
    await batches.commit_written("b2")
    record = await batches.get("b2")
    assert (record["status"], record["total"]) == ("aborted", "0")


async def test_a_batch_committed_but_not_announced_is_announced_by_its_finisher(redis_and_keys):
    """As if the gateway stopped right after the status changed: listed, running, but still
    among the submitting ones and never announced to the scheduler."""
    client, keys = redis_and_keys
    batches = BatchStore(client, keys)
    task = _task(keys, Priority.NORMAL, time.time())
    await batches.begin(_batch("b3", 1), [task.task_id], [], "[]", "d")
    await TaskStore(client, keys).submit([task])
    await client.sadd(keys.running_batches, "b3")
    await batches.lua.run("batch_commit", [keys.batch("b3")], [])
    pubsub = client.pubsub()
    await pubsub.subscribe(keys.batch_channel)
    await batches.commit_written("b3")
    assert await batches.submitting_since(time.time() + 1) == []
    assert (await batches.get("b3"))["status"] == "running"
    messages = [await pubsub.get_message(timeout=1) for _ in range(2)]
    assert any(m and m["type"] == "message" and m["data"] == "b3" for m in messages)
    await pubsub.aclose()


async def test_tasks_of_a_claim_whose_reply_was_lost_go_back_and_no_others(redis_and_keys):
    client, keys = redis_and_keys
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    now = time.time()
    lost, kept = _task(keys, Priority.NORMAL, now - 2), _task(keys, Priority.NORMAL, now - 1)
    await tasks.submit([lost, kept])

    def everything(task: TaskSpec) -> ClaimRequest:
        return ClaimRequest(WorkerType.GENERAL_PURPOSE, task.partition, float("inf"), 1)

    lost_at, kept_at = now + 0.123456, now + 0.5
    await dispatch.claim([everything(lost)], lost_at)  # as if its reply never came
    await dispatch.claim([everything(kept)], kept_at)  # a claim whose tasks were launched
    assert await dispatch.requeue_claimed_at(lost_at) == 1

    record = await tasks.get(lost.task_id)
    assert record[TaskField.STATUS] == "queued"
    assert (record[TaskField.ATTEMPTS], record[TaskField.SYSTEM_RETRIES]) == ("0", "1")
    assert (await tasks.get(kept.task_id))[TaskField.STATUS] == "running"
    (again,) = await dispatch.claim([everything(lost)], now + 1)
    assert again.task_id == lost.task_id
    assert await dispatch.requeue_claimed_at(lost_at) == 0  # once
