"""Fair share within a level on a real Redis (store/lua/lib/fair_score.lua): a principal with
a long queue does not make another wait behind all of it, each principal's own order and
the order between levels stay, delayed tasks are placed fairly when released, and a fresh
task never looks old enough to be promoted."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.priority import LEVEL_WEIGHT, fair_window_ms
from vokaflow.domain.task import TaskSpec
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.scheduler.policy import PROMOTION_CEILING, StarvationRule, plan_claims
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.task_store import TaskStore

GENERAL = WorkerType.GENERAL_PURPOSE


@pytest.fixture
async def stores(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vffair-{uuid.uuid4().hex[:6]}", 1)  # one partition: one order to read
    yield client, keys, TaskStore(client, keys), DispatchStore(client, keys)
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def _task(owner: str, priority: Priority = Priority.BATCH, **fields) -> TaskSpec:
    return TaskSpec(
        task_id=f"{owner}-{uuid.uuid4().hex[:12]}",
        function_name="noop",
        priority=priority,
        category="system",
        created_at=fields.pop("created_at", time.time()),
        owner=owner,
        **fields,
    )


async def _claim(dispatch: DispatchStore, count: int) -> list[str]:
    everything = ClaimRequest(GENERAL, 0, float("inf"), count)
    return [claimed.spec.task_id for claimed in await dispatch.claim([everything], time.time())]


async def test_a_second_principal_waits_next_to_the_head_not_behind_the_backlog(stores):
    _, _, tasks, dispatch = stores
    backlog = [_task("ann") for _ in range(2000)]
    await tasks.submit(backlog)
    late = [_task("bob") for _ in range(10)]
    await tasks.submit(late)

    first = await _claim(dispatch, 20)
    assert {t.task_id for t in late} <= set(first)
    assert [i for i in first if i.startswith("ann")] == [t.task_id for t in backlog[:10]]


async def test_across_partitions_a_one_slot_pool_takes_the_late_principal_near_the_head(
    tier_redis_url,
):
    # Each partition keeps its own fair order; the dispatcher's plan keeps the order between
    # them. One task a round, as a pool with one slot and long tasks claims: bob's tasks land
    # in the partitions with the fewest of ann's, which must not wait until every larger one
    # came down to their size.
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vffair-{uuid.uuid4().hex[:6]}", 16)
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    try:
        # one creation time for all: each partition's fair clock starts at its first task's,
        # and on a loaded machine making 300 tasks takes milliseconds
        created_at = time.time()
        await tasks.submit([_placed(keys, _task("ann", created_at=created_at)) for _ in range(300)])
        backlogs = (await dispatch.level_counts([GENERAL]))[GENERAL]
        smallest = sorted(backlogs, key=lambda p: backlogs[p].counts[Priority.BATCH.level])
        for partition in smallest[:3]:
            await tasks.submit([_placed(keys, _task("bob"), partition)])
        order: list[str] = []
        while len(order) < 303:
            backlogs = (await dispatch.level_counts([GENERAL]))[GENERAL]
            claimed = await dispatch.claim(plan_claims(GENERAL, backlogs, 1), time.time())
            order += [claimed_task.spec.task_id for claimed_task in claimed]
    finally:
        async for key in client.scan_iter(match=f"{keys.prefix}:*"):
            await client.delete(key)
        await client.aclose()

    # ann's first task in each of the 16 partitions ties with bob's; draining the largest
    # partitions first put bob's last after 150 of ann's
    bob_last = max(i for i, task_id in enumerate(order) if task_id.startswith("bob"))
    assert bob_last < 32, f"bob's last task went after {bob_last} of ann's"


def _placed(keys: Keys, task: TaskSpec, partition: int | None = None) -> TaskSpec:
    """The task in its id's partition, or with an id that hashes to ``partition``."""
    while partition is not None and keys.partition(task.task_id) != partition:
        task = replace(task, task_id=f"{task.owner}-{uuid.uuid4().hex[:12]}")
    return replace(task, partition=keys.partition(task.task_id))


async def test_it_interleaves_principals_that_submitted_at_once(stores):
    _, _, tasks, dispatch = stores
    await tasks.submit([_task("ann") for _ in range(300)])
    await tasks.submit([_task("bob") for _ in range(300)])
    await tasks.submit([_task("cy") for _ in range(300)])

    owners = [task_id.split("-")[0] for task_id in await _claim(dispatch, 90)]
    assert {owner: owners.count(owner) for owner in set(owners)} == {
        "ann": 30,
        "bob": 30,
        "cy": 30,
    }


async def test_the_order_between_levels_stays_strict(stores):
    _, _, tasks, dispatch = stores
    await tasks.submit([_task("ann") for _ in range(500)])
    bob_batch = _task("bob")
    ann_high = _task("ann", Priority.HIGH)
    await tasks.submit([bob_batch, ann_high])

    first = await _claim(dispatch, 3)
    assert first[0] == ann_high.task_id
    assert bob_batch.task_id in first[1:]  # beside ann's first BATCH task


async def test_a_single_submit_takes_its_fair_place_and_counts_what_is_ahead(stores):
    client, keys, tasks, dispatch = stores
    await tasks.submit([_task("ann") for _ in range(500)])
    limiter = RedisRateLimiter(
        client, keys, {"system": RateLimit(limit_per_second=1000, burst=1000)}
    )

    decision, ahead = await tasks.submit_one(_task("bob"), limiter)

    assert decision is not None and decision.granted == 1
    assert ahead <= 1
    assert any(i.startswith("bob") for i in await _claim(dispatch, 2))


async def test_delayed_tasks_are_placed_fairly_when_released(stores):
    _, _, tasks, dispatch = stores
    due = time.time() - 1
    ann = [_task("ann", run_at=due) for _ in range(400)]
    bob = [_task("bob", run_at=due) for _ in range(5)]
    await tasks.submit(ann + bob)

    await dispatch.release_due(int(time.time() * 1000))

    assert {t.task_id for t in bob} <= set(await _claim(dispatch, 12))


async def test_a_fresh_task_joining_a_late_level_is_not_promoted_for_a_wait_it_did_not_have(
    stores,
):
    _, _, tasks, dispatch = stores
    now_ms = int(time.time() * 1000)
    hour_ago = now_ms / 1000 - 3600
    starving = _task("ann", Priority.NORMAL, created_at=hour_ago)
    await tasks.submit([starving])
    fresh = _task("bob", Priority.NORMAL)
    (score,) = await tasks.submit([fresh])

    assert score - Priority.NORMAL.level * LEVEL_WEIGHT >= now_ms - fair_window_ms(3)
    waits = [StarvationRule(4.0).wait_before_promotion_ms(level) for level in range(8)]
    assert await dispatch.promote_starving(now_ms + 1000, waits, PROMOTION_CEILING) == 1
    assert TaskSpec.from_record(await tasks.get(fresh.task_id)).priority == Priority.NORMAL
    assert TaskSpec.from_record(await tasks.get(starving.task_id)).priority == Priority.HIGH


async def test_the_fair_clock_forgets_principals_once_their_tasks_are_served(stores):
    client, keys, tasks, dispatch = stores
    for owner in ("ann", "bob", "cy"):
        await tasks.submit([_task(owner) for _ in range(5)])
    await _claim(dispatch, 15)
    time.sleep(0.02)

    await tasks.submit([_task("dee")])

    assert await client.zrange(keys.fair(0, GENERAL, Priority.BATCH.level), 0, -1) == ["dee"]
