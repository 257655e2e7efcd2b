"""Schedules on the embedded Redis: the claim script advances a due schedule once however
many firers race for it, and each fire is one task written through the real submit script;
a restarted firer resumes without duplicates and, with "skip", without the missed fires."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from tests.scheduler_fakes import START_WALL, FakeClock
from vokaflow.config import Settings
from vokaflow.domain.schedule import FireRule, MissedFires, Schedule, TaskTemplate, fire_task_id
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.scheduler.schedule_firer import ScheduleFirer, submit_through
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.schedules import Changed, ScheduleStore
from vokaflow.store.task_store import TaskStore

START = int(START_WALL)
CATEGORY = "sched"


@pytest.fixture
async def redis_keys(tier_redis_url):
    clients = [aioredis.Redis.from_url(tier_redis_url, decode_responses=True) for _ in range(2)]
    keys = Keys(f"vfsched-{uuid.uuid4().hex[:6]}", 4)
    yield clients, keys
    async for key in clients[0].scan_iter(match=f"{keys.prefix}:*"):
        await clients[0].delete(key)
    for client in clients:
        await client.aclose()


def firer(
    client, keys, clock, limit=RateLimit(limit_per_second=1000, burst=1000), **settings
) -> ScheduleFirer:
    limiter = RedisRateLimiter(client, keys, {CATEGORY: limit})
    return ScheduleFirer(
        ScheduleStore(client, keys),
        submit_through(TaskStore(client, keys), limiter),
        keys.partition,
        clock,
        Settings(**settings),
    )


def every(seconds: int, missed: MissedFires = MissedFires.SKIP) -> Schedule:
    return Schedule(
        schedule_id=f"sch_{uuid.uuid4().hex[:8]}",
        owner="alice",
        template=TaskTemplate(name="ping", function_name="noop", category=CATEGORY),
        rule=FireRule(interval_s=seconds, start=START),
        missed=missed,
    ).rescheduled(START)


async def tasks_of(client, keys, schedule: Schedule, fires: range) -> list[bool]:
    """Whether the task of each fire time exists."""
    ids = [fire_task_id("alice", schedule.schedule_id, START + f) for f in fires]
    return [bool(await client.exists(keys.task(task_id))) for task_id in ids]


async def task_count(client, keys) -> int:
    return len([k async for k in client.scan_iter(match=f"{keys.prefix}:*:task:*")])


async def test_two_firers_racing_on_one_redis_write_one_task_per_fire(redis_keys):
    (one, two), keys = redis_keys
    clock = FakeClock()
    schedules = [every(5) for _ in range(3)]
    for schedule in schedules:
        assert await ScheduleStore(one, keys).create(schedule, cap=10)
    firers = [firer(one, keys, clock), firer(two, keys, clock)]
    for _ in range(30):
        clock.advance(1)
        await asyncio.gather(*(f.tick() for f in firers))
    assert await task_count(one, keys) == 3 * 6  # fires at +5 ... +30
    for schedule in schedules:
        assert await tasks_of(one, keys, schedule, range(5, 31, 5)) == [True] * 6
        runs = await ScheduleStore(one, keys).runs(schedule.schedule_id)
        assert [r.fire_at - START for r in runs] == [30, 25, 20, 15, 10, 5]
        assert not any(r.waiting for r in runs)


async def test_a_claim_from_a_stale_read_is_refused(redis_keys):
    (client, _), keys = redis_keys
    store = ScheduleStore(client, keys)
    await store.create(every(5), cap=10)
    now = START + 5
    (read,) = await store.due(now, 10)
    assert await store.claim(read, START + 10, START + 5, "t1", now)
    assert not await store.claim(read, START + 10, START + 5, "t1", now)  # a second firer
    (read,) = await store.due(now + 5, 10)
    await store.change(read, read.rescheduled(now))  # a PATCH between read and claim
    assert not await store.claim(read, START + 15, START + 10, "t2", now + 5)
    with pytest.raises(Changed):  # and a PATCH from the stale read is refused too
        await store.change(read, read.rescheduled(now))


async def test_a_restarted_firer_resumes_without_duplicates_and_skips_the_missed(redis_keys):
    (client, _), keys = redis_keys
    clock = FakeClock()
    schedule = every(10)
    await ScheduleStore(client, keys).create(schedule, cap=10)
    first = firer(client, keys, clock, schedule_misfire_grace_s=3)
    for _ in range(2):
        clock.advance(10)
        await first.tick()
    # the first dies here; the service is down for a minute
    clock.advance(65)  # now +85: fires +30 ... +80 were missed, +80 is 5 s old
    second = firer(client, keys, clock, schedule_misfire_grace_s=3)
    await second.tick()
    clock.advance(5)
    await second.tick()
    assert await tasks_of(client, keys, schedule, range(10, 91, 10)) == [
        True,
        True,
        *[False] * 6,
        True,
    ]
    assert await task_count(client, keys) == 3


async def test_a_fire_refused_by_the_rate_limit_waits_and_runs_later(redis_keys):
    (client, _), keys = redis_keys
    clock = FakeClock()
    schedule = every(5)
    store = ScheduleStore(client, keys)
    await store.create(schedule, cap=10)
    slow = RateLimit(limit_per_second=1, burst=1)
    await RedisRateLimiter(client, keys, {CATEGORY: slow}).take(
        CATEGORY, 1, partial=False, owner="bob"
    )  # the one token is gone
    starved = firer(client, keys, clock, limit=slow)
    clock.advance(5)
    assert await starved.tick() == 0
    (run,) = await store.runs(schedule.schedule_id)
    assert run.waiting and not await client.exists(keys.task(run.task_id))
    assert await starved.tick() == 0  # put off: not tried again before its retry-after
    await asyncio.sleep(1.1)  # the bucket (on Redis' clock) has a token again
    clock.advance(1)
    assert await starved.tick() == 1
    assert await client.exists(keys.task(run.task_id))


async def test_an_owner_cannot_pass_its_cap_and_a_delete_removes_its_fires(redis_keys):
    (client, _), keys = redis_keys
    store = ScheduleStore(client, keys)
    first, second = every(5), every(5)
    assert await store.create(first, cap=1)
    assert not await store.create(second, cap=1)
    assert [s.schedule_id for s in await store.of_owner("alice")] == [first.schedule_id]
    assert await store.delete(first)
    assert await store.get(first.schedule_id) is None
    assert await store.due(START + 100, 10) == []
    assert await store.create(second, cap=1)


async def test_two_gateways_creating_at_once_stop_at_the_cap(redis_keys):
    (one, two), keys = redis_keys
    stores = [ScheduleStore(one, keys), ScheduleStore(two, keys)]
    made = await asyncio.gather(*(stores[i % 2].create(every(5), cap=3) for i in range(8)))
    assert sorted(made) == [False] * 5 + [True] * 3
    assert len(await stores[0].of_owner("alice")) == 3


async def test_of_two_changes_from_one_read_the_second_is_refused(redis_keys):
    (one, two), keys = redis_keys
    await ScheduleStore(one, keys).create(every(5), cap=3)
    (read,) = await ScheduleStore(one, keys).of_owner("alice")
    await ScheduleStore(one, keys).change(read, read.rescheduled(START + 1))
    with pytest.raises(Changed):
        await ScheduleStore(two, keys).change(read, read.rescheduled(START + 2))
