"""The task search (store.task_index) on a real Redis, through the real scripts: tasks are
written by TaskStore's submits and ended by the calls the scheduler makes (TaskEnding), and
the indexes those scripts keep answer pages: each principal's own tasks only, every filter,
cursors in both orders, entries of expired records dropped, older records backfilled, and
a bounded look per call."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, replace

import pytest
import redis.asyncio as aioredis

from vokaflow.domain import Priority, TaskStatus, WorkerType
from vokaflow.domain.task import ClaimedTask, Outcome, TaskField, TaskSpec, id_in_partition
from vokaflow.domain.workflow import WorkflowNode
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.store import task_index
from vokaflow.store.batch_store import BatchRecord, BatchStore
from vokaflow.store.category_stats import CategoryStats
from vokaflow.store.dead_letters import DeadLetterStore
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore
from vokaflow.store.events import EventLog
from vokaflow.store.keys import Keys, index_digest
from vokaflow.store.logs import LogStore
from vokaflow.store.rate_limits import RedisRateLimiter
from vokaflow.store.task_index import TaskIndex, TaskQuery, encode_cursor
from vokaflow.store.task_store import TaskStore
from vokaflow.store.workflow_store import WorkflowRecord, WorkflowStore

POOL = WorkerType.GENERAL_PURPOSE
T0 = time.time() - 3600  # an hour ago: creation times are spread from here


class NoMetrics:
    def count_finished(self, finished) -> None:
        list(finished)


@dataclass
class World:
    client: aioredis.Redis
    keys: Keys
    tasks: TaskStore
    dispatch: DispatchStore
    batches: BatchStore
    ending: TaskEnding
    index: TaskIndex
    clock: list[float]
    running: dict[str, ClaimedTask]

    def task(self, owner: str = "ann", **fields) -> TaskSpec:
        """A new task, each created 1 ms after the last unless told."""
        task_id = fields.pop("task_id", str(uuid.uuid4()))
        self.clock[0] += 0.001
        return TaskSpec(
            task_id=task_id,
            function_name=fields.pop("function_name", "noop"),
            category="system",
            created_at=fields.pop("created_at", self.clock[0]),
            partition=self.keys.partition(task_id),
            owner=owner,
            **fields,
        )

    async def submit(self, n: int = 1, owner: str = "ann", **fields) -> list[TaskSpec]:
        new = [self.task(owner, **fields) for _ in range(n)]
        await self.tasks.submit(new)
        return new

    async def end(self, specs: list[TaskSpec], status: TaskStatus) -> None:
        """Claim these (they must be ready) and end them as the scheduler does."""
        await self.claim_all()
        claimed = [self.running.pop(t.task_id) for t in specs]
        now = time.time()
        error = None if status is TaskStatus.COMPLETED else {"type": "E", "message": "x"}
        outcomes = [
            Outcome(c.task_id, c.attempt, status, now - 0.1, now, None, error, "noop")
            for c in claimed
        ]
        await self.ending.finish(claimed, outcomes, [])

    async def claim_all(self) -> list[ClaimedTask]:
        requests = [ClaimRequest(POOL, p, float("inf"), 1000) for p in range(self.keys.partitions)]
        claimed = await self.dispatch.claim(requests, time.time())
        self.running |= {c.task_id: c for c in claimed}
        return claimed

    async def all_pages(self, query: TaskQuery, limit: int, cursor: str | None = None) -> list[str]:
        ids: list[str] = []
        while True:
            page = await self.index.search(query, limit=limit, cursor=cursor)
            ids += [_id(r) for r in page.records]
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor

    async def ids(self, query: TaskQuery, limit: int = 500) -> list[str]:
        return await self.all_pages(query, limit)


def _id(record: dict[str, str]) -> str:
    return json.loads(record[TaskField.SPEC])["id"]


def _newest_first(specs: list[TaskSpec]) -> list[str]:
    order = sorted(specs, key=lambda t: (t.created_ms, t.task_id), reverse=True)
    return [t.task_id for t in order]


@pytest.fixture
async def world(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfindex-{uuid.uuid4().hex[:6]}", 16)
    tasks, dispatch = TaskStore(client, keys, 3600), DispatchStore(client, keys, 3600)
    batches = BatchStore(client, keys)
    ending = TaskEnding(
        dispatch=dispatch,
        tasks=tasks,
        batches=batches,
        logs=LogStore(client, keys),
        category_stats=CategoryStats(client, keys),
        events=EventLog(client, keys),
        metrics=NoMetrics(),
    )
    index = TaskIndex(client, keys, retention_s=60)
    yield World(client, keys, tasks, dispatch, batches, ending, index, [T0], {})
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


async def test_a_tenant_sees_its_own_tasks_only_and_an_admin_sees_every_one(world):
    ann = await world.submit(5, "ann")
    bob = await world.submit(3, "bob")
    assert await world.ids(TaskQuery(owner="ann")) == _newest_first(ann)
    assert await world.ids(TaskQuery(owner="bob")) == _newest_first(bob)
    assert await world.ids(TaskQuery(owner=None)) == _newest_first(ann + bob)
    assert await world.ids(TaskQuery(owner="ann", task_id=bob[0].task_id)) == []
    assert await world.ids(TaskQuery(owner=None, task_id=bob[0].task_id)) == [bob[0].task_id]


async def test_an_entry_in_the_wrong_owner_s_index_is_never_returned(world):
    [mine] = await world.submit(1, "ann")
    [theirs] = await world.submit(1, "bob")
    wrong = world.keys.index_owner(theirs.partition, "ann")
    await world.client.zadd(wrong, {theirs.task_id: theirs.created_ms})
    assert await world.ids(TaskQuery(owner="ann")) == [mine.task_id]


async def test_a_crafted_cursor_never_shows_another_tenant_s_tasks(world):
    await world.submit(3, "ann")
    bob = await world.submit(3, "bob")
    bobs_page = await world.index.search(TaskQuery(owner="bob"), limit=1)
    assert bobs_page.next_cursor is not None
    with pytest.raises(ValueError):  # another query's cursor
        await world.index.search(TaskQuery(owner="ann"), cursor=bobs_page.next_cursor)
    ann_query = TaskQuery(owner="ann")
    for source in ("all", "owner"):  # ann's own fingerprint, at one of bob's entries
        at = task_index.IndexPosition(source, bob[-1].created_ms + 1, bob[-1].task_id)
        crafted = encode_cursor(ann_query.fingerprint(), at)
        if source == "all":
            with pytest.raises(ValueError):  # not an index this query may read
                await world.index.search(ann_query, cursor=crafted)
        else:
            page = await world.index.search(ann_query, cursor=crafted)
            assert all(json.loads(r[TaskField.SPEC])["owner"] == "ann" for r in page.records)


@pytest.mark.parametrize(
    "cursor",
    [
        "x",
        "!!!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"v": 1, "q": "0", "o": -1}').decode(),
        "A" * 5000,
    ],
)
async def test_a_tampered_cursor_is_a_value_error(world, cursor):
    await world.submit(2)
    with pytest.raises(ValueError):
        await world.index.search(TaskQuery(owner="ann"), cursor=cursor)


async def test_every_filter(world):
    plain = await world.submit(3, function_name="noop")
    named = await world.submit(2, function_name="resize", name="thumbs")
    urgent = await world.submit(2, function_name="noop", priority=Priority.CRITICAL)
    await world.submit(2, "bob", function_name="resize", name="thumbs")
    ann = TaskQuery(owner="ann")
    assert await world.ids(replace(ann, function_name="resize")) == _newest_first(named)
    assert await world.ids(replace(ann, name="thumbs")) == _newest_first(named)
    assert await world.ids(replace(ann, priority=Priority.CRITICAL)) == _newest_first(urgent)
    everyone_resizing = await world.ids(TaskQuery(owner=None, function_name="resize"))
    assert len(everyone_resizing) == 4
    assert await world.ids(replace(ann, status=TaskStatus.QUEUED)) == _newest_first(
        plain + named + urgent
    )
    await world.end(plain[:1], TaskStatus.COMPLETED)
    assert len(world.running) == 8  # the others, claimed with it
    done = replace(ann, status=TaskStatus.COMPLETED)
    assert await world.ids(done) == [plain[0].task_id]
    assert len(await world.ids(replace(ann, status=TaskStatus.RUNNING))) == 6
    assert await world.ids(replace(ann, status=TaskStatus.QUEUED)) == []
    assert await world.ids(replace(done, function_name="resize")) == []


async def test_a_batch_s_and_a_workflow_s_tasks(world):
    batch_id = f"b-{uuid.uuid4().hex[:8]}"
    in_batch = [world.task(batch_id=batch_id, created_at=T0) for _ in range(12)]
    record = BatchRecord(batch_id, "ann", "parallel", 12, 12, T0, None, None, POOL.value)
    await world.batches.begin(record, [t.task_id for t in in_batch], [])
    await world.tasks.submit(in_batch)
    workflow_id = f"wf-{uuid.uuid4().hex[:8]}"
    in_workflow = [world.task(workflow_id=workflow_id) for _ in range(3)]
    await world.tasks.submit(in_workflow)
    nodes = tuple(WorkflowNode(f"n{i}", t.task_id, ()) for i, t in enumerate(in_workflow))
    await WorkflowStore(world.client, world.keys).create(
        WorkflowRecord(workflow_id, "ann", "wf", T0, nodes)
    )
    submitted = [t.task_id for t in in_batch]
    by_batch = TaskQuery(owner="ann", batch_id=batch_id)
    assert await world.all_pages(by_batch, limit=5) == submitted[::-1]
    assert await world.all_pages(replace(by_batch, newest_first=False), limit=5) == submitted
    assert await world.ids(TaskQuery(owner="bob", batch_id=batch_id)) == []
    assert await world.ids(TaskQuery(owner=None, batch_id=batch_id)) == submitted[::-1]
    by_workflow = TaskQuery(owner="ann", workflow_id=workflow_id, newest_first=False)
    assert await world.ids(by_workflow) == [t.task_id for t in in_workflow]
    assert await world.ids(TaskQuery(owner="bob", workflow_id=workflow_id)) == []


async def test_pages_in_both_orders_cover_every_task_once_across_partitions(world):
    spread = await world.submit(40)
    together = [world.task(created_at=T0 + 10) for _ in range(30)]  # one ms: a batch's
    await world.tasks.submit(together)
    everything = spread + together
    newest = _newest_first(everything)
    assert len({t.partition for t in everything}) > 8
    for query in (TaskQuery(owner="ann"), TaskQuery(owner=None)):
        assert await world.all_pages(query, limit=7) == newest
        oldest = replace(query, newest_first=False)
        assert await world.all_pages(oldest, limit=7) == newest[::-1]
    # a task written between pages shows up in its place, nothing twice
    oldest_first = TaskQuery(owner="ann", newest_first=False)
    page = await world.index.search(oldest_first, limit=10)
    [late] = await world.submit(1, created_at=T0 + 20)
    rest = await world.all_pages(oldest_first, limit=9, cursor=page.next_cursor)
    assert [_id(r) for r in page.records] + rest == [*newest[::-1], late.task_id]


async def test_ended_tasks_are_found_by_their_final_status(world):
    completed, failed, cancelled, timed_out = [await world.submit(2) for _ in range(4)]
    await world.end(completed, TaskStatus.COMPLETED)
    await world.end(failed, TaskStatus.FAILED)
    for spec in cancelled:
        await world.ending.cancel(spec.task_id, time.time())
    await world.tasks.terminate_many([t.task_id for t in timed_out], "timeout", time.time())
    parent = world.task()
    child = world.task(depends_on={parent.task_id: "p"})
    await world.tasks.submit([parent, child])
    await world.ending.children_written([child], time.time())
    await world.end([parent], TaskStatus.FAILED)
    expected = {
        TaskStatus.COMPLETED: completed,
        TaskStatus.FAILED: [*failed, parent],
        TaskStatus.CANCELLED: cancelled,
        TaskStatus.TIMEOUT: timed_out,
        TaskStatus.UPSTREAM_FAILED: [child],
    }
    for status, specs in expected.items():
        for owner in ("ann", None):
            found = await world.ids(TaskQuery(owner=owner, status=status))
            assert found == _newest_first(specs), status
    live = TaskQuery(owner="ann", status=TaskStatus.QUEUED)
    assert await world.ids(live) == []
    for p in range(world.keys.partitions):
        assert await world.client.zcard(world.keys.index_live(p, None)) == 0


async def test_one_settle_ends_a_partition_s_tasks_of_two_owners_and_skips_a_stale_one(world):
    """finish.lua takes every outcome of a partition in one call: each current one leaves the
    running set and moves to its status's indexes, its owner's among them; an outcome of an
    older attempt changes nothing."""
    partition = 3
    specs = [
        world.task(
            owner, task_id=id_in_partition(str(uuid.uuid4()), partition, world.keys.partition)
        )
        for owner in ("ann", "bob", "ann", "bob")
    ]
    await world.tasks.submit(specs)
    await world.claim_all()
    claimed = [world.running.pop(t.task_id) for t in specs]
    now = time.time()
    statuses = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.COMPLETED, TaskStatus.COMPLETED]
    outcomes = [
        Outcome(c.task_id, c.attempt, status, now - 0.1, now, None, None, "noop")
        for c, status in zip(claimed, statuses, strict=True)
    ]
    stale = replace(outcomes[3], attempt=outcomes[3].attempt + 1)

    settled = await world.dispatch.settle([*outcomes[:3], stale], [])

    assert [o.task_id for o in settled.final] == [t.task_id for t in specs[:3]]
    ann_completed = TaskQuery(owner="ann", status=TaskStatus.COMPLETED)
    assert await world.ids(ann_completed) == _newest_first([specs[0], specs[2]])
    assert await world.ids(TaskQuery(owner="bob", status=TaskStatus.FAILED)) == [specs[1].task_id]
    assert await world.ids(TaskQuery(owner="bob", status=TaskStatus.RUNNING)) == [specs[3].task_id]
    running = world.keys.running(partition)
    assert [await world.client.zscore(running, t.task_id) is None for t in specs] == [
        True,
        True,
        True,
        False,
    ]
    assert (await world.tasks.get(specs[3].task_id))[TaskField.STATUS] == "running"


async def test_a_record_that_does_not_decode_stops_no_other_end_of_its_call(world):
    """A record with no owner field and a spec that is not JSON names no one; the tasks
    beside it in the same finish.lua call end as usual, dead letters included."""
    partition = 5
    specs = [
        world.task(task_id=id_in_partition(str(uuid.uuid4()), partition, world.keys.partition))
        for _ in range(3)
    ]
    await world.tasks.submit(specs)
    await world.claim_all()
    claimed = [world.running.pop(t.task_id) for t in specs]
    broken = world.keys.task(specs[1].task_id)
    await world.client.hdel(broken, TaskField.OWNER)
    await world.client.hset(broken, TaskField.SPEC, "{not json")
    now = time.time()
    error = {"type": "E", "message": "x"}
    outcomes = [
        Outcome(c.task_id, c.attempt, TaskStatus.FAILED, now - 0.1, now, None, error, "noop")
        for c in claimed
    ]

    settled = await world.dispatch.settle(outcomes, [])

    assert len(settled.final) == 3
    failed = TaskQuery(owner="ann", status=TaskStatus.FAILED)
    assert await world.ids(failed) == _newest_first([specs[0], specs[2]])
    assert await world.client.zcard(world.keys.running(partition)) == 0
    dead = await world.client.zrange(world.keys.dead_letters(partition), 0, -1)
    assert sorted(dead) == sorted(t.task_id for t in specs)


async def test_a_dead_letter_sent_back_is_live_again(world):
    [task] = await world.submit(1)
    await world.end([task], TaskStatus.FAILED)
    outcome, _ = await DeadLetterStore(world.client, world.keys).requeue(task.task_id)
    assert outcome == "requeued"
    assert await world.ids(TaskQuery(owner="ann", status=TaskStatus.FAILED)) == []
    assert await world.ids(TaskQuery(owner="ann", status=TaskStatus.QUEUED)) == [task.task_id]


async def test_a_single_submit_is_indexed(world):
    limiter = RedisRateLimiter(
        world.client, world.keys, {"system": RateLimit(limit_per_second=10, burst=10)}
    )
    task = world.task(function_name="resize")
    decision, _ = await world.tasks.submit_one(task, limiter)
    assert decision is not None and decision.granted == 1
    query = TaskQuery(owner="ann", function_name="resize", status=TaskStatus.QUEUED)
    assert await world.ids(query) == [task.task_id]


async def _index_keys(world: World) -> list[str]:
    return [k async for k in world.client.scan_iter(match=f"{world.keys.prefix}:*:ix:*")]


async def test_entries_of_expired_records_go_when_a_search_meets_them(world):
    kept = await world.submit(2)
    gone = await world.submit(3)
    for spec in gone:
        await world.client.delete(world.keys.task(spec.task_id))
    page = await world.index.search(TaskQuery(owner="ann"), limit=50)
    assert [_id(r) for r in page.records] == _newest_first(kept)
    assert page.examined == 5
    for spec in gone:
        own = world.keys.index_owner(spec.partition, "ann")
        assert await world.client.zscore(own, spec.task_id) is None
    page = await world.index.search(TaskQuery(owner="ann"), limit=50)
    assert page.examined == 2
    await world.index.search(TaskQuery(owner=None), limit=50)  # the ledger: every index
    assert await world.index.trim(int(time.time() * 1000)) == 0
    for spec in gone:
        live = world.keys.index_live(spec.partition, "ann")
        assert await world.client.zscore(live, spec.task_id) is None


async def test_the_trim_drops_every_entry_of_expired_records_a_step_at_a_time(world, monkeypatch):
    monkeypatch.setattr(task_index, "TRIM_PER_PARTITION", 2)
    kept = await world.submit(3)
    gone = await world.submit(60, function_name="resize")
    await world.end(gone[:30], TaskStatus.COMPLETED)
    legacy = await _as_earlier_versions_indexed(world, gone)
    for spec in gone:
        await world.client.delete(world.keys.task(spec.task_id))
    assert await world.index.trim(int(T0 * 1000)) == 0  # nothing old enough yet
    now_ms = int(time.time() * 1000)
    dropped = [await world.index.trim(now_ms) for _ in range(40)]
    assert max(dropped) <= 2 * world.keys.partitions and sum(dropped) == 60
    assert await world.ids(TaskQuery(owner=None)) == _newest_first(kept)
    left = await _index_keys(world)
    # kept's entries only: the ledger, live, the owner's and its live
    assert sum([await world.client.zcard(k) for k in left]) == 4 * 3
    assert not legacy & set(left)


async def _as_earlier_versions_indexed(world: World, tasks: list[TaskSpec]) -> set[str]:
    """Entries in the index earlier versions also kept: one per function beside the
    owner's."""
    written = set()
    for spec in tasks:
        by_function = f"{world.keys.index_owner(spec.partition, 'ann')}:f:{index_digest('resize')}"
        await world.client.zadd(by_function, {spec.task_id: T0 * 1000})
        written.add(by_function)
    return written


async def test_records_from_before_the_indexes_are_backfilled_once(world):
    old = [world.task() for _ in range(5)]
    for spec in old:
        fields = dict(zip(spec.to_fields()[::2], spec.to_fields()[1::2], strict=True))
        del fields[TaskField.OWNER]  # as older versions wrote a record
        await world.client.hset(world.keys.task(spec.task_id), mapping=fields)
    await world.client.hset(world.keys.task(old[0].task_id), TaskField.STATUS, "completed")
    assert await world.ids(TaskQuery(owner="ann")) == []
    assert await world.index.backfill_step(most=2) is False
    while not await world.index.backfill_step(most=2):
        pass
    assert await world.ids(TaskQuery(owner="ann")) == _newest_first(old)
    done = TaskQuery(owner="ann", status=TaskStatus.COMPLETED)
    assert await world.ids(done) == [old[0].task_id]
    await world.client.delete(world.keys.task(old[1].task_id))
    assert await world.index.backfill_step() is True  # the marker: never again
    assert await world.ids(TaskQuery(owner="ann")) == _newest_first([old[0], *old[2:]])


async def test_a_sparse_filter_gives_a_short_page_and_a_cursor(world, monkeypatch):
    monkeypatch.setattr(task_index, "EXAMINE_PER_CALL", 40)
    [rare] = await world.submit(1, name="rare")
    await world.submit(100)
    query = TaskQuery(owner="ann", name="rare")
    page = await world.index.search(query, limit=10)
    assert page.records == [] and page.next_cursor is not None
    assert page.examined == 40
    assert await world.ids(query, limit=10) == [rare.task_id]
