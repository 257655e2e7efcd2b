"""The scheduler's parts against the real DispatchStore on the embedded Redis: the dispatcher
claims from real queues, the settler's outcomes are written with their side effects. The
executor and the clock are the unit tier's fakes; Ray is never involved."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from tests.scheduler_fakes import GP, FakeMetrics, Rig, build_rig
from vokaflow.domain import Priority, TaskField, TaskStatus, WorkerType
from vokaflow.domain.task import TaskSpec
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.scheduler.batches import BatchCoordinator
from vokaflow.scheduler.inflight import STARTUP_GRACE_S
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.category_stats import RETRIED, CategoryStats
from vokaflow.store.dispatch_store import DispatchStore
from vokaflow.store.events import EventLog
from vokaflow.store.keys import Keys
from vokaflow.store.logs import LogStore
from vokaflow.store.task_store import TaskStore

CATEGORY = "parts"


@pytest.fixture
async def stores(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfparts-{uuid.uuid4().hex[:6]}", 4)
    yield client, keys
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def _rig(client: aioredis.Redis, keys: Keys, **settings) -> tuple[Rig, TaskStore]:
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    events = EventLog(client, keys)
    batch_store = BatchStore(client, keys)
    ending = TaskEnding(
        dispatch=dispatch,
        tasks=tasks,
        batches=batch_store,
        logs=LogStore(client, keys),
        category_stats=CategoryStats(client, keys),
        events=events,
        metrics=FakeMetrics(),
        advance_batch=lambda batch_id: batches.advance(batch_id),
    )
    batches = BatchCoordinator(batch_store, tasks, dispatch, lambda _: 1, ending, events)
    ports = dict(store=dispatch, queues=tasks, ending=ending, batches=batches)
    rig = build_rig(ports, urgent_reserved_fraction=0, **settings)
    return rig, tasks


def _task(keys: Keys, priority: Priority, max_retries: int = 0, timeout_s: int = 300) -> TaskSpec:
    task_id = str(uuid.uuid4())
    created_at = time.time() - 1
    return TaskSpec(
        task_id=task_id,
        name="t",
        function_name="noop",
        priority=priority,
        worker_type=GP,
        category=CATEGORY,
        timeout_s=timeout_s,
        max_retries=max_retries,
        created_at=created_at,
        partition=keys.partition(task_id),
        owner="ann",
    )


async def _eventually(check: Callable[[], object]) -> None:
    for _ in range(300):
        if await check():  # type: ignore[misc]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the scheduler part did not write in time")


async def test_the_dispatcher_claims_the_best_levels_from_the_real_queues(stores):
    client, keys = stores
    rig, tasks = _rig(client, keys, max_chunk_size=1)
    rig.pools(GENERAL_PURPOSE=(2, 2))
    submitted = {p: _task(keys, p) for p in (Priority.BATCH, Priority.NORMAL, Priority.EMERGENCY)}
    submitted[Priority.HIGH] = _task(keys, Priority.HIGH)
    await tasks.submit(list(submitted.values()))
    assert await rig.core.dispatcher.dispatch_round()
    launched = [x.ids for x in rig.executor.launches]
    assert launched == [
        [submitted[Priority.EMERGENCY].task_id],
        [submitted[Priority.HIGH].task_id],
    ]
    record = await tasks.get(submitted[Priority.HIGH].task_id)
    assert record[TaskField.STATUS] == TaskStatus.RUNNING
    assert (await tasks.queue_sizes())[GP] == 2


async def test_the_settler_writes_a_retry_and_a_final_outcome_with_their_counts(stores):
    client, keys = stores
    rig, tasks = _rig(client, keys)
    rig.pools(GENERAL_PURPOSE=(4, 4))
    retried, done = _task(keys, Priority.NORMAL, max_retries=1), _task(keys, Priority.NORMAL)
    await tasks.submit([retried, done])
    await rig.core.dispatcher.dispatch_round()
    for index, launch in enumerate(rig.executor.launches):
        failed = launch.ids == [retried.task_id]
        rig.executor.finish(index, TaskStatus.FAILED if failed else TaskStatus.COMPLETED)

    async def both_written() -> bool:
        records = [await tasks.get(t.task_id) for t in (retried, done)]
        return [r[TaskField.STATUS] for r in records] == ["queued", "completed"]

    await _eventually(both_written)
    assert (await tasks.get(retried.task_id))[TaskField.RETRY_AT]
    counts = await CategoryStats(client, keys).read(CATEGORY)
    assert counts.outcomes[RETRIED] == 1 and counts.outcomes["completed"] == 1
    assert rig.core.inflight.chunks == {}


async def test_a_task_that_lost_its_worker_too_often_is_written_failed(stores):
    client, keys = stores
    rig, tasks = _rig(client, keys, max_system_retries=0)
    rig.pools(GENERAL_PURPOSE=(4, 4))
    task = _task(keys, Priority.NORMAL)
    await tasks.submit([task])
    await rig.core.dispatcher.dispatch_round()
    rig.executor.lose(0, RuntimeError("node died"))

    async def failed() -> bool:
        return (await tasks.get(task.task_id))[TaskField.STATUS] == "failed"

    await _eventually(failed)
    error = json.loads((await tasks.get(task.task_id))[TaskField.ERROR])
    assert error["type"] == "WorkerLost"
    assert error["message"] == "worker lost 1 times: RuntimeError: node died"


async def test_an_overdue_chunk_goes_back_to_its_queue_task_by_task(stores):
    client, keys = stores
    rig, tasks = _rig(client, keys)
    rig.pools(GENERAL_PURPOSE=(1, 1))
    chunk = [_task(keys, Priority.NORMAL, timeout_s=5) for _ in range(3)]
    await tasks.submit(chunk)
    await rig.core.dispatcher.dispatch_round()
    assert [len(x.tasks) for x in rig.executor.launches] == [3]
    rig.clock.advance(STARTUP_GRACE_S + 5)
    await rig.core.settler.check_deadlines()
    records = [await tasks.get(t.task_id) for t in chunk]
    assert {(r[TaskField.STATUS], r[TaskField.SOLO]) for r in records} == {("queued", "1")}
    assert (await tasks.queue_sizes())[WorkerType.GENERAL_PURPOSE] == 3
