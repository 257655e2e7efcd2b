"""Delayed tasks in the store: scheduled until due, released by release_due.lua exactly once
and never early, cancelled off their schedule, found again by a new releaser, and never
counted as pending."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from vokaflow.config import Settings
from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.priority import queue_score
from vokaflow.domain.task import TaskField, TaskSpec
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.scheduler.release_process import start_release_process
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore
from vokaflow.store.keys import Keys
from vokaflow.store.metrics_store import MetricsStore
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.task_store import TaskStore

NOW_MS = 1_800_000_000_000
GENERAL = WorkerType.GENERAL_PURPOSE


@pytest.fixture
async def stores(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfdelayed-{uuid.uuid4().hex[:6]}", 16)
    yield client, keys, TaskStore(client, keys), DispatchStore(client, keys)
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def _delayed(keys: Keys, due_ms: int, priority: Priority = Priority.NORMAL) -> TaskSpec:
    task_id = str(uuid.uuid4())
    return TaskSpec(
        task_id=task_id,
        function_name="noop",
        priority=priority,
        category="system",
        created_at=(NOW_MS - 60_000) / 1000,
        partition=keys.partition(task_id),
        owner="ann",
        run_at=due_ms / 1000,
    )


async def _status(client: aioredis.Redis, keys: Keys, task_id: str) -> str:
    return str(await client.hget(keys.task(task_id), TaskField.STATUS))


async def _ready(client: aioredis.Redis, keys: Keys, task: TaskSpec) -> float | None:
    return await client.zscore(keys.queue(task.partition, task.worker_type), task.task_id)


async def test_a_delayed_task_waits_scheduled_and_leaves_at_its_due_time_not_before(stores):
    client, keys, tasks, dispatch = stores
    task = _delayed(keys, NOW_MS + 5_000)
    await tasks.submit([task])
    assert await _status(client, keys, task.task_id) == TaskStatus.SCHEDULED
    assert await _ready(client, keys, task) is None

    early = await dispatch.release_due(NOW_MS + 4_999)
    assert (early.count, early.next_due_ms) == (0, NOW_MS + 5_000)
    assert await _status(client, keys, task.task_id) == TaskStatus.SCHEDULED

    due = await dispatch.release_due(NOW_MS + 5_003)
    assert (due.count, due.next_due_ms) == (1, None)
    assert await _status(client, keys, task.task_id) == TaskStatus.QUEUED
    released_at = await client.hget(keys.task(task.task_id), TaskField.RELEASED_AT)
    assert released_at == str(NOW_MS + 5_003)
    # its place in the queue counts from its due time, not from the release or the submit
    assert await _ready(client, keys, task) == queue_score(Priority.NORMAL, (NOW_MS + 5_000) / 1000)


async def test_a_released_task_is_claimed_with_its_queue_wait_from_the_due_time(stores):
    _, keys, tasks, dispatch = stores
    task = _delayed(keys, NOW_MS + 1_000, Priority.HIGH)
    await tasks.submit([task])
    await dispatch.release_due(NOW_MS + 1_000)
    everything = ClaimRequest(GENERAL, task.partition, float("inf"), 10)
    (claimed,) = await dispatch.claim([everything], NOW_MS / 1000 + 2)
    assert claimed.spec.run_at == (NOW_MS + 1_000) / 1000
    assert claimed.queued_since == claimed.spec.run_at  # not created_at, a minute earlier
    assert claimed.spec.priority == Priority.HIGH


async def test_two_releasers_at_once_release_each_task_once(stores):
    client, keys, tasks, dispatch = stores
    scheduled = [_delayed(keys, NOW_MS + i) for i in range(400)]
    await tasks.submit(scheduled)
    other = DispatchStore(client, keys)  # a second scheduler, as during a restart's overlap
    first, second = await asyncio.gather(
        dispatch.release_due(NOW_MS + 400), other.release_due(NOW_MS + 400)
    )
    assert first.count + second.count == 400
    queued = 0
    for partition in range(keys.partitions):
        queued += await client.zcard(keys.queue(partition, GENERAL))
    assert queued == 400
    everything = [ClaimRequest(GENERAL, p, float("inf"), 1000) for p in range(keys.partitions)]
    claimed = await dispatch.claim(everything, NOW_MS / 1000 + 1)
    assert sorted(c.task_id for c in claimed) == sorted(t.task_id for t in scheduled)


async def test_a_new_releaser_finds_every_scheduled_task(stores, tier_redis_url):
    """Nothing of the schedule lives in a scheduler: a restarted one reads it all from Redis."""
    _, keys, tasks, _ = stores
    scheduled = [_delayed(keys, NOW_MS + 1_000 * i) for i in range(1, 33)]
    await tasks.submit(scheduled)
    connection = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    restarted = DispatchStore(connection, keys)
    released = 0
    for step in range(1, 33):
        result = await restarted.release_due(NOW_MS + 1_000 * step)
        assert result.count == 1
        released += result.count
    assert released == 32 and (await restarted.release_due(NOW_MS + 10**6)).count == 0
    await connection.aclose()


async def test_cancel_while_scheduled_takes_it_off_the_schedule(stores):
    client, keys, tasks, dispatch = stores
    task = _delayed(keys, NOW_MS + 1_000)
    await tasks.submit([task])
    ended = await tasks.terminate(task.task_id, TaskStatus.CANCELLED, NOW_MS / 1000)
    assert (ended.outcome, ended.previous_status) == ("ended", TaskStatus.SCHEDULED)
    assert await client.zscore(keys.scheduled(task.partition), task.task_id) is None
    assert (await dispatch.release_due(NOW_MS + 2_000)).count == 0
    assert await _status(client, keys, task.task_id) == TaskStatus.CANCELLED
    assert await _ready(client, keys, task) is None


async def test_a_retry_waiting_beside_a_delayed_task_goes_to_the_back_of_its_level(stores):
    client, keys, tasks, dispatch = stores
    task = _delayed(keys, NOW_MS + 1_000)
    await tasks.submit([task])
    # a retry, as retry.lua leaves it: queued, on its partition's retry schedule. Another
    # principal's, in another partition: one principal's tasks keep the order they were
    # released in (fair share), and in one partition the retry released first would be the
    # head that the fair clock of the delayed task starts from.
    retry = replace(_delayed(keys, NOW_MS), run_at=None, owner="bob")
    while retry.partition == task.partition:
        retry = replace(_delayed(keys, NOW_MS), run_at=None, owner="bob")
    await tasks.submit([replace(retry, hold=True)])
    await client.zadd(keys.delayed(retry.partition), {retry.task_id: NOW_MS + 500})
    assert (await dispatch.release_due(NOW_MS + 2_000)).count == 2
    assert await _ready(client, keys, retry) == queue_score(Priority.NORMAL, NOW_MS / 1000 + 2)
    assert await _ready(client, keys, task) == queue_score(Priority.NORMAL, NOW_MS / 1000 + 1)


async def test_a_single_submit_of_a_delayed_task_takes_a_token_and_has_nobody_ahead(stores):
    client, keys, tasks, _ = stores
    limiter = RedisRateLimiter(client, keys, {"system": RateLimit(limit_per_second=10, burst=10)})
    ready = replace(_delayed(keys, NOW_MS), run_at=None, created_at=time.time())
    await tasks.submit([ready])
    task = _delayed(keys, int(time.time() * 1000) + 60_000)
    decision, ahead = await tasks.submit_one(task, limiter)
    assert decision is not None and decision.granted == 1 and ahead == 0
    assert await client.zscore(keys.scheduled(task.partition), task.task_id) == task.due_ms
    assert await _status(client, keys, task.task_id) == TaskStatus.SCHEDULED
    repeated, _ = await tasks.submit_one(task, limiter)
    assert repeated is None  # the same id: an idempotent replay writes nothing


async def test_a_held_delayed_task_of_a_batch_goes_to_the_schedule_when_released(stores):
    client, keys, tasks, dispatch = stores
    later = replace(_delayed(keys, NOW_MS + 5_000), hold=True)
    past = replace(_delayed(keys, NOW_MS - 5_000), hold=True)
    await tasks.submit([later, past])
    assert await client.zscore(keys.scheduled(later.partition), later.task_id) is None

    assert await dispatch.release_held(later.task_id, NOW_MS)
    assert await client.zscore(keys.scheduled(later.partition), later.task_id) == NOW_MS + 5_000
    assert await _status(client, keys, later.task_id) == TaskStatus.SCHEDULED

    assert await dispatch.release_held(past.task_id, NOW_MS)  # due already: straight to its queue
    assert await _status(client, keys, past.task_id) == TaskStatus.QUEUED
    assert await _ready(client, keys, past) == queue_score(Priority.NORMAL, NOW_MS / 1000)


async def test_a_scheduled_task_is_not_pending_and_a_retry_is(stores):
    client, keys, tasks, _ = stores
    metrics = MetricsStore(client, keys)
    await tasks.submit([_delayed(keys, NOW_MS + 1_000)])
    assert await metrics.waiting_for_retry() == 0
    assert sum((await tasks.queue_sizes()).values()) == 0
    await client.zadd(keys.delayed(0), {"a-retry": NOW_MS})
    assert await metrics.waiting_for_retry() == 1


async def test_the_release_process_releases_on_time_and_wakes_the_scheduler(stores, tier_redis_url):
    """The process the scheduler actor starts, as it starts it, over the real store. It is
    timed once it runs (a first task due at once has woken the scheduler): how long a new
    process takes to start on loaded cores is not what this measures."""
    client, keys, tasks, _ = stores
    wakeups = client.pubsub()
    await wakeups.subscribe(keys.wakeup_channel)
    settings = Settings(key_prefix=keys.prefix, partitions=keys.partitions)
    await tasks.submit([_delayed(keys, int(time.time() * 1000))])
    child = start_release_process(tier_redis_url, settings.to_wire())

    async def next_wakeup():
        """The releaser's wake-up ("*" for every pool); a submit wakes its pool by name."""
        while True:
            message = await wakeups.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None and message["data"] == "*":
                return message

    try:
        await asyncio.wait_for(next_wakeup(), timeout=30)  # it runs
        due_ms = int((time.time() + 0.5) * 1000)
        task = _delayed(keys, due_ms)
        await tasks.submit([task])
        await asyncio.wait_for(next_wakeup(), timeout=15)
    finally:
        child.terminate()
        child.wait(5)
        await wakeups.aclose()
    assert await _status(client, keys, task.task_id) == TaskStatus.QUEUED
    released_at = int(await client.hget(keys.task(task.task_id), TaskField.RELEASED_AT))
    assert due_ms <= released_at < due_ms + 1_000
