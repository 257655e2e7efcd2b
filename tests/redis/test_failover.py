"""Schedules and delayed tasks through Redis failovers, on a primary with two replicas and a
Sentinel of the test's own (vokaflow.testing.stack): the real schedule firer and releaser,
on a fake clock, reach Redis through the Sentinel URL while Sentinel fails the primary over
(the old one keeps taking writes for seconds: what it takes then is lost) and then while
the new primary is killed. Each fire time still makes exactly one task, recorded once among
its schedule's runs, and each delayed task is released once, none early, none lost.

The fake clock moves only when a tick and a release pass got through, as a scheduler whose
Redis answers would: the outages then cost no fire to the missed-fire policy, and what is
checked is what a failover loses, not what an outage skips."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.scheduler_fakes import START_WALL, FakeClock
from vokaflow.config import Settings
from vokaflow.domain import TaskStatus
from vokaflow.domain.schedule import FireRule, Schedule, TaskTemplate, fire_task_id
from vokaflow.domain.task import TaskField, TaskSpec
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.scheduler.releaser import Releaser
from vokaflow.scheduler.schedule_firer import ScheduleFirer, submit_through
from vokaflow.store.dispatch_store import DispatchStore
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.redis_client import connect
from vokaflow.store.schedules import ScheduleStore
from vokaflow.store.task_store import TaskStore
from vokaflow.testing.stack import LocalSentinelRedis

START = int(START_WALL)
CATEGORY = "sched"
SECONDS = 45  # of the fake clock, one tick each
FIRES = range(5, SECONDS + 1, 5)  # an interval of 5 s, the shortest allowed
DELAYED = [START * 1000 + 500 * i + 250 for i in range(1, 81)]  # due ms, over 40 s
FAIL_OVER_AT, KILL_AT = 10, 25


@pytest.fixture
def topology(tmp_path: Path):
    redis = LocalSentinelRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def every_5s() -> Schedule:
    return Schedule(
        schedule_id=f"sch_{uuid.uuid4().hex[:8]}",
        owner="alice",
        template=TaskTemplate(name="ping", function_name="noop", category=CATEGORY),
        rule=FireRule(interval_s=5, start=START),
    ).rescheduled(START)


def delayed(keys: Keys, due_ms: int) -> TaskSpec:
    task_id = str(uuid.uuid4())
    return TaskSpec(
        task_id=task_id,
        function_name="noop",
        category="system",
        created_at=START,
        partition=keys.partition(task_id),
        owner="ann",
        run_at=due_ms / 1000,
    )


async def test_each_fire_is_one_task_and_each_delayed_task_released_once_through_failovers(
    topology: LocalSentinelRedis,
):
    client = connect(topology.url)
    keys = Keys(f"vffail-{uuid.uuid4().hex[:6]}", 4)
    clock = FakeClock()
    store = ScheduleStore(client, keys)
    schedules = [every_5s() for _ in range(3)]
    for schedule in schedules:
        assert await store.create(schedule, cap=10)
    scheduled = [delayed(keys, due_ms) for due_ms in DELAYED]
    await TaskStore(client, keys).submit(scheduled)
    await store.replicated()  # accepted and on every replica: no failover may lose them
    unlimited = RateLimit(limit_per_second=1000, burst=1000)
    limiter = RedisRateLimiter(client, keys, {CATEGORY: unlimited})
    firer = ScheduleFirer(
        store,
        submit_through(TaskStore(client, keys), limiter),
        keys.partition,
        clock,
        Settings(),
    )
    releaser = Releaser(
        DispatchStore(client, keys), TaskStore(client, keys).notify_scheduler, clock
    )
    refused = 0

    async def step() -> None:
        nonlocal refused
        while True:
            try:
                await firer.tick()
                await releaser.release()
                return
            except StoreUnavailable:
                refused += 1
                await asyncio.sleep(0.05)

    failover = None
    try:
        for second in range(1, SECONDS + 1):
            clock.advance(1)
            await step()
            if second == FAIL_OVER_AT:
                failover = asyncio.create_task(asyncio.to_thread(topology.fail_over))
            if second == KILL_AT:
                assert failover is not None
                await failover
                failover = asyncio.create_task(asyncio.to_thread(topology.kill_primary))
            await asyncio.sleep(0.1)
        assert failover is not None
        await failover
        assert refused, "no failover was felt: the test proved nothing"

        for schedule in schedules:
            runs = await store.runs(schedule.schedule_id)
            assert [r.fire_at - START for r in runs] == sorted(FIRES, reverse=True)
            for run in runs:
                assert run.task_id == fire_task_id("alice", schedule.schedule_id, run.fire_at)
                assert not run.waiting
                assert await client.exists(keys.task(run.task_id))
        assert await client.zcard(keys.schedule_fires) == 0
        tasks = [k async for k in client.scan_iter(match=f"{keys.prefix}:*:task:*")]
        assert len(tasks) == len(schedules) * len(FIRES) + len(scheduled)

        for task, due_ms in zip(scheduled, DELAYED, strict=True):
            status, released_at = await client.hmget(
                keys.task(task.task_id), [TaskField.STATUS, TaskField.RELEASED_AT]
            )
            assert status == TaskStatus.QUEUED
            assert int(released_at) >= due_ms  # none early
            queue = keys.queue(task.partition, task.worker_type)
            assert await client.zscore(queue, task.task_id) is not None
        for partition in range(keys.partitions):
            assert await client.zcard(keys.scheduled(partition)) == 0
    finally:
        if failover is not None:
            await asyncio.gather(failover, return_exceptions=True)
        await client.aclose()
