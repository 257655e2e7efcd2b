"""Dependencies on a real Redis (lifecycle.dependencies through TaskEnding): a child waits
until its parents end, runs once however its parents' ends reach it, ends upstream_failed
(and its own children with it) when a parent did not complete unless its trigger rule is
all_done, takes its parents' results in, and a sweep mends an end that was never told."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import redis.asyncio as aioredis

from vokaflow.domain import TaskStatus, WorkerType
from vokaflow.domain.task import (
    ClaimedTask,
    Outcome,
    TaskField,
    TaskSpec,
    with_parents_results,
)
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.category_stats import CategoryStats
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore
from vokaflow.store.events import EventLog
from vokaflow.store.keys import Keys
from vokaflow.store.logs import LogStore
from vokaflow.store.task_store import TaskStore

GENERAL = WorkerType.GENERAL_PURPOSE


class NoMetrics:
    def count_finished(self, finished) -> None:
        list(finished)


@pytest.fixture
async def world(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfdeps-{uuid.uuid4().hex[:6]}", 16)
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    ending = TaskEnding(
        dispatch=dispatch,
        tasks=tasks,
        batches=BatchStore(client, keys),
        logs=LogStore(client, keys),
        category_stats=CategoryStats(client, keys),
        events=EventLog(client, keys),
        metrics=NoMetrics(),
    )
    yield client, keys, tasks, dispatch, ending
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def _task(keys: Keys, parents: dict[str, str] | None = None, **fields) -> TaskSpec:
    task_id = str(uuid.uuid4())
    return TaskSpec(
        task_id=task_id,
        function_name=fields.pop("function_name", "noop"),
        category="system",
        created_at=time.time(),
        partition=keys.partition(task_id),
        owner="ann",
        depends_on=parents or {},
        **fields,
    )


async def _write(tasks: TaskStore, ending: TaskEnding, *specs: TaskSpec) -> None:
    await tasks.submit(list(specs))
    await ending.children_written(list(specs), time.time())


async def _run(keys, dispatch, ending, wanted: set[str], status=TaskStatus.COMPLETED, result=None):
    """Claim every ready task; end those in ``wanted`` as ``status``. Returns the claimed ids."""
    requests = [ClaimRequest(GENERAL, p, float("inf"), 100) for p in range(keys.partitions)]
    claimed = await dispatch.claim(requests, time.time())
    ending_now = [c for c in claimed if c.task_id in wanted]
    now = time.time()
    outcomes = [
        Outcome(c.task_id, c.attempt, status, now - 0.1, now, result, None, "noop")
        for c in ending_now
    ]
    await ending.finish(ending_now, outcomes, [])
    return {c.task_id for c in claimed}


async def _status(tasks: TaskStore, task: TaskSpec) -> str:
    return (await tasks.get(task.task_id))[TaskField.STATUS]


async def test_a_child_waits_for_every_parent_then_runs_once(world):
    _, keys, tasks, dispatch, ending = world
    a, b = _task(keys), _task(keys)
    child = _task(keys, {a.task_id: "a", b.task_id: "b"})
    await _write(tasks, ending, a, b, child)
    assert await _status(tasks, child) == "waiting"

    assert await _run(keys, dispatch, ending, {a.task_id}) == {a.task_id, b.task_id}
    assert await _status(tasks, child) == "waiting"  # b still runs
    await ending.finish(
        [ClaimedTask(b, 1)],
        [Outcome(b.task_id, 1, TaskStatus.COMPLETED, time.time() - 1, time.time())],
        [],
    )
    assert await _status(tasks, child) == "queued"
    assert await _run(keys, dispatch, ending, set()) == {child.task_id}


async def test_parents_ending_at_once_on_different_partitions_release_the_child_once(world):
    client, keys, tasks, dispatch, ending = world
    parents = [_task(keys) for _ in range(40)]
    child = _task(keys, {p.task_id: p.task_id for p in parents})
    await _write(tasks, ending, *parents, child)
    claimed = await _run(keys, dispatch, ending, set())
    assert len({keys.partition(i) for i in claimed}) > 5

    now = time.time()
    await asyncio.gather(
        *(
            ending.finish(
                [ClaimedTask(p, 1)],
                [Outcome(p.task_id, 1, TaskStatus.COMPLETED, now - 1, now)],
                [],
            )
            for p in parents
        ),
        ending.sweep_dependencies(now + 3600),  # a sweep racing the ends, too
    )
    queue = keys.queue(child.partition, GENERAL)
    assert await client.zscore(queue, child.task_id) is not None
    assert await _run(keys, dispatch, ending, set()) == {child.task_id}
    assert int((await tasks.get(child.task_id))[TaskField.ATTEMPTS]) == 1


async def test_a_failed_parent_ends_its_descendants_upstream_failed_unless_all_done(world):
    _, keys, tasks, dispatch, ending = world
    parent = _task(keys)
    child = _task(keys, {parent.task_id: "p"})
    grandchild = _task(keys, {child.task_id: "c"})
    cleanup = _task(keys, {parent.task_id: "p"}, trigger_rule="all_done")
    await _write(tasks, ending, parent, child, grandchild, cleanup)

    await _run(keys, dispatch, ending, {parent.task_id}, TaskStatus.FAILED)

    assert await _status(tasks, child) == "upstream_failed"
    assert await _status(tasks, grandchild) == "upstream_failed"
    error = json.loads((await tasks.get(child.task_id))[TaskField.ERROR])
    assert error["type"] == "UpstreamFailed" and parent.task_id in error["message"]
    assert await _status(tasks, cleanup) == "queued"


async def test_a_child_of_a_parent_that_already_ended_is_counted_at_once(world):
    _, keys, tasks, dispatch, ending = world
    done, gone = _task(keys), _task(keys)
    await _write(tasks, ending, done, gone)
    await _run(keys, dispatch, ending, {done.task_id, gone.task_id})
    late = _task(keys, {done.task_id: "d"})
    await _write(tasks, ending, late)
    assert await _status(tasks, late) == "queued"


async def test_a_child_s_parents_results_are_read_for_it_by_name_and_not_copied(world):
    _, keys, tasks, dispatch, ending = world
    a, b = _task(keys), _task(keys)
    child = _task(keys, {a.task_id: "left", b.task_id: "right"}, pass_results_as="inputs")
    await _write(tasks, ending, a, b, child)
    await _run(keys, dispatch, ending, {a.task_id, b.task_id}, result={"value": 2})

    stored = TaskSpec.decode(await tasks.spec(child.task_id))
    assert stored.kwargs == {}  # read at dispatch (scheduler.dispatcher), not copied here
    results = await dispatch.results_of([a.task_id, b.task_id])
    given = with_parents_results(stored, results)
    assert given.kwargs == {"inputs": {"left": {"value": 2}, "right": {"value": 2}}}


async def test_a_failure_down_a_long_chain_ends_every_link_without_recursing(world):
    _, keys, tasks, dispatch, ending = world
    root = _task(keys)
    chain = [root]
    for _ in range(600):
        chain.append(_task(keys, {chain[-1].task_id: "up"}))
    await _write(tasks, ending, *chain)

    await _run(keys, dispatch, ending, {root.task_id}, TaskStatus.FAILED)

    assert await _status(tasks, chain[-1]) == "upstream_failed"


async def test_a_cancelled_waiting_child_leaves_the_waiting_index(world):
    client, keys, tasks, dispatch, ending = world
    parent, other = _task(keys), _task(keys)
    child = _task(keys, {parent.task_id: "p", other.task_id: "o"})
    await _write(tasks, ending, parent, other, child)
    await _run(keys, dispatch, ending, {other.task_id})  # one parent counted: its set exists

    await ending.cancel(child.task_id, time.time())
    await _run(keys, dispatch, ending, {parent.task_id})

    assert await _status(tasks, child) == "cancelled"
    assert await client.zscore(keys.waiting(child.partition), child.task_id) is None
    assert not await client.exists(keys.parents_ended(child.task_id))


async def test_the_sweep_releases_a_child_whose_parent_s_end_was_never_told(world):
    _, keys, tasks, dispatch, ending = world
    parent = _task(keys)
    child = _task(keys, {parent.task_id: "p"})
    await _write(tasks, ending, parent, child)
    await _run(keys, dispatch, ending, set())
    # the parent's end written, and the process gone before it told its children
    await dispatch.settle(
        [Outcome(parent.task_id, 1, TaskStatus.COMPLETED, time.time() - 1, time.time())], []
    )
    assert await _status(tasks, child) == "waiting"

    await ending.sweep_dependencies(time.time())
    assert await _status(tasks, child) == "waiting"  # not due for a check yet
    await ending.sweep_dependencies(time.time() + 3600)
    assert await _status(tasks, child) == "queued"
