"""Per-key concurrency on a real Redis (store/lua/lib/concurrency.lua): at most
max_concurrency tasks of one owner's key run at once; the rest wait in their key's waiting
set and go back to their queue, at their own place, as each running one ends, however it
ends (finished, retried, re-queued, cancelled); and the sweep mends a release that never
came."""

from __future__ import annotations

import time
import uuid

import pytest
import redis.asyncio as aioredis

from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.task import Outcome, TaskField, TaskSpec, concurrency_name, id_in_partition
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore, Retry
from vokaflow.store.keys import Keys
from vokaflow.store.task_store import TaskStore

GENERAL = WorkerType.GENERAL_PURPOSE


@pytest.fixture
async def stores(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfcc-{uuid.uuid4().hex[:6]}", 16)
    yield client, keys, TaskStore(client, keys), DispatchStore(client, keys)
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def _keyed(keys: Keys, owner: str, key: str, cap: int, created_at: float = 0.0) -> TaskSpec:
    home = keys.partition(concurrency_name(owner, key))
    task_id = id_in_partition(str(uuid.uuid4()), home, keys.partition)
    return TaskSpec(
        task_id=task_id,
        function_name="noop",
        priority=Priority.NORMAL,
        category="system",
        created_at=created_at or time.time(),
        partition=home,
        owner=owner,
        concurrency_key=key,
        max_concurrency=cap,
    )


async def _claim_all(keys: Keys, dispatch: DispatchStore) -> list[str]:
    everything = [ClaimRequest(GENERAL, p, float("inf"), 100) for p in range(keys.partitions)]
    return [claimed.spec.task_id for claimed in await dispatch.claim(everything, time.time())]


def _done(task_id: str) -> Outcome:
    now = time.time()
    return Outcome(task_id, 1, TaskStatus.COMPLETED, now - 0.1, now, None, None, "noop")


async def test_at_most_the_cap_runs_and_the_rest_wait_in_order(stores):
    _, keys, tasks, dispatch = stores
    backlog = [_keyed(keys, "ann", "report", 2, created_at=1000.0 + i) for i in range(5)]
    await tasks.submit(backlog)

    running = await _claim_all(keys, dispatch)
    assert running == [t.task_id for t in backlog[:2]]
    assert await _claim_all(keys, dispatch) == []
    statuses = [(await tasks.get(t.task_id))[TaskField.STATUS] for t in backlog]
    assert statuses == ["running", "running", "queued", "queued", "queued"]

    await dispatch.settle([_done(running[0])], [])
    assert await _claim_all(keys, dispatch) == [backlog[2].task_id]  # its place kept


async def test_one_owner_s_key_never_holds_back_another_owner_s(stores):
    _, keys, tasks, dispatch = stores
    await tasks.submit([_keyed(keys, "ann", "shared-name", 1) for _ in range(3)])
    bob = _keyed(keys, "bob", "shared-name", 1)
    await tasks.submit([bob])

    claimed = await _claim_all(keys, dispatch)
    assert bob.task_id in claimed and len(claimed) == 2


async def test_every_way_out_of_running_hands_the_slot_on(stores):
    _, keys, tasks, dispatch = stores
    chain = [_keyed(keys, "ann", "one-at-a-time", 1, created_at=1000.0 + i) for i in range(5)]
    await tasks.submit(chain)
    ran = []

    async def next_one() -> str:
        (task_id,) = await _claim_all(keys, dispatch)
        ran.append(task_id)
        return task_id

    await dispatch.settle([], [Retry(_done(await next_one()), int(time.time() * 1000) + 10**7)])
    await dispatch.requeue([(await next_one(), 1)], solo=False)  # a system retry: back in line
    first_back = await next_one()
    await tasks.terminate(first_back, TaskStatus.CANCELLED.value, time.time())
    await dispatch.requeue_all_running()  # nothing runs: a no-op
    await dispatch.settle([_done(await next_one())], [])
    assert ran == [chain[0].task_id, chain[1].task_id, chain[1].task_id, chain[2].task_id]


async def test_a_cancelled_waiting_task_leaves_its_key(stores):
    client, keys, tasks, dispatch = stores
    first, second, third = (_keyed(keys, "ann", "k", 1, created_at=1000.0 + i) for i in range(3))
    await tasks.submit([first, second, third])
    assert await _claim_all(keys, dispatch) == [first.task_id]

    await tasks.terminate(second.task_id, TaskStatus.CANCELLED.value, time.time())
    await dispatch.settle([_done(first.task_id)], [])

    assert await _claim_all(keys, dispatch) == [third.task_id]
    waiting = f"{keys.partition_prefix(first.partition)}cc:{first.concurrency_name}:waiting"
    assert await client.zcard(waiting) == 0


async def test_the_sweep_mends_a_slot_whose_release_never_came(stores):
    client, keys, tasks, dispatch = stores
    first, second = (_keyed(keys, "ann", "k", 1, created_at=1000.0 + i) for i in range(2))
    await tasks.submit([first, second])
    assert await _claim_all(keys, dispatch) == [first.task_id]
    await client.delete(keys.task(first.task_id))  # its record expired while it ran

    assert await dispatch.sweep_concurrency_keys() == 1
    assert await _claim_all(keys, dispatch) == [second.task_id]
    assert await dispatch.sweep_concurrency_keys() == 0
