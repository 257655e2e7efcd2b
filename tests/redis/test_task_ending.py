"""The one owner of a task's end (vokaflow.lifecycle.ending) on a real Redis: each path that
ends a task leaves the same side effects, read back from where their readers read them:
the task's log lines and the service log, the category counts, the ``task.*`` events the
webhook dispatcher reads, the batch's counts, and the Prometheus counter (a recording port).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from vokaflow.domain import BatchStatus, Priority, TaskStatus, WorkerType
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.scheduler.batches import BatchCoordinator
from vokaflow.store.batch_store import BatchRecord, BatchStore, terminal_counts
from vokaflow.store.category_stats import CategoryStats
from vokaflow.store.dispatch_store import ClaimRequest, DispatchStore, Retry
from vokaflow.store.events import EventLog
from vokaflow.store.keys import Keys
from vokaflow.store.logs import LogStore
from vokaflow.store.task_store import TaskStore
from vokaflow.testing.recording_metrics import RecordingMetrics

OWNER = "ann"
CATEGORY = "analytics"
POOL = WorkerType.GENERAL_PURPOSE


@dataclass
class World:
    client: aioredis.Redis
    keys: Keys
    tasks: TaskStore
    dispatch: DispatchStore
    batches: BatchStore
    logs: LogStore
    stats: CategoryStats
    metrics: RecordingMetrics
    ending: TaskEnding
    coordinator: BatchCoordinator
    stop_signals: Any  # a pub/sub connection on the cancel channel

    async def submit(self, n: int = 1, batch_id: str | None = None) -> list[str]:
        new = [_new_task(self.keys, batch_id) for _ in range(n)]
        await self.tasks.submit(new)
        return [t.task_id for t in new]

    async def claim(self, n: int = 100) -> list[ClaimedTask]:
        return await self.dispatch.claim([ClaimRequest(POOL, 0, float("inf"), n)], time.time())

    async def batch(self, n: int, *, max_failures: int | None = None, timeout_s: int | None = None):
        batch_id = f"b-{uuid.uuid4().hex[:8]}"
        created = time.time() - (timeout_s or 0) - 5  # its timeout, if any, is past
        record = BatchRecord(
            batch_id, OWNER, "parallel", n, n, created, timeout_s, max_failures, POOL.value
        )
        new = [_new_task(self.keys, batch_id) for _ in range(n)]
        await self.batches.begin(record, [t.task_id for t in new], [])
        deadline = None if timeout_s is None else created + timeout_s
        await self.tasks.submit(
            new, also=lambda pipe: self.batches.queue_listing(pipe, batch_id, deadline)
        )
        await self.batches.commit(batch_id)
        return batch_id, [t.task_id for t in new]

    # ---------------------------------------------------------------- what readers see

    async def events(self) -> Counter[tuple[str, str]]:
        entries = await self.client.xrange(self.keys.event_stream)
        return Counter((fields["event"], fields["id"]) for _, fields in entries)

    async def outcome_counts(self) -> dict[str, int]:
        counts = (await self.stats.read(CATEGORY)).outcomes
        return {status: n for status, n in counts.items() if n}

    async def service_log(self) -> list[dict[str, Any]]:
        return await self.logs.system_entries("DEBUG", 100, OWNER)

    async def batch_state(self, batch_id: str) -> tuple[str, dict[str, int]]:
        record = await self.batches.get(batch_id) or {}
        counts = {s: n for s, n in terminal_counts(record).items() if n}
        return record.get("status", ""), counts

    async def stopped(self) -> set[str]:
        """The task ids the scheduler was told to stop."""
        found: set[str] = set()
        quiet_until = time.monotonic() + 0.3  # a subscribe confirmation reads as None too
        while time.monotonic() < quiet_until:
            message = await self.stop_signals.get_message(timeout=0.05)
            if message and message["type"] == "message":
                found.add(message["data"])
        return found


def _new_task(keys: Keys, batch_id: str | None) -> TaskSpec:
    task_id = str(uuid.uuid4())
    return TaskSpec(
        task_id=task_id,
        name="t",
        function_name="noop",
        args=[],
        kwargs={},
        priority=Priority.HIGH,
        worker_type=POOL,
        category=CATEGORY,
        timeout_s=300,
        max_retries=0,
        metadata={},
        created_at=time.time(),
        partition=keys.partition(task_id),
        owner=OWNER,
        batch_id=batch_id,
    )


@pytest.fixture
async def world(tier_redis_url):
    client = aioredis.Redis.from_url(tier_redis_url, decode_responses=True)
    keys = Keys(f"vfending-{uuid.uuid4().hex[:6]}", 1)
    await client.sadd(keys.webhook_owners, OWNER)  # events are written for webhook owners
    tasks, dispatch = TaskStore(client, keys), DispatchStore(client, keys)
    batches = BatchStore(client, keys)
    metrics = RecordingMetrics()
    coordinator: list[BatchCoordinator] = []
    ending = TaskEnding(
        dispatch=dispatch,
        tasks=tasks,
        batches=batches,
        logs=LogStore(client, keys),
        category_stats=CategoryStats(client, keys),
        events=EventLog(client, keys),
        metrics=metrics,
        advance_batch=lambda batch_id: coordinator[0].advance(batch_id),
    )
    coordinator.append(
        BatchCoordinator(batches, tasks, dispatch, lambda _: 4, ending, EventLog(client, keys))
    )
    stop_signals = await tasks.subscribe(keys.cancel_channel)
    yield World(
        client,
        keys,
        tasks,
        dispatch,
        batches,
        ending.logs,
        ending.category_stats,
        metrics,
        ending,
        coordinator[0],
        stop_signals,
    )
    await stop_signals.aclose()
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def _outcome(task: ClaimedTask, status: TaskStatus, error_type: str = "") -> Outcome:
    now = time.time()
    line = {"ts": now, "level": "INFO", "source": "stdout", "message": f"hello from {status}"}
    error = {"type": error_type, "message": "it broke", "traceback": None} if error_type else None
    return Outcome(task.task_id, task.attempt, status, now - 0.5, now, None, error, "noop", [line])


def _described(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["task_id"], entry["event"], entry["level"])


def _metric(status: TaskStatus, n: int = 1) -> Counter[tuple[str, str, str]]:
    return Counter({(CATEGORY, Priority.HIGH.value, status.value): n})


async def _finish_one(world: World, status: TaskStatus, error_type: str = "") -> str:
    [task_id] = await world.submit()
    [task] = await world.claim()
    settled = await world.ending.finish([task], [_outcome(task, status, error_type)], [])
    assert [o.task_id for o in settled.final] == [task_id]
    return task_id


async def _assert_failure_recorded(world: World, task_id: str, status: TaskStatus, text: str):
    assert await world.outcome_counts() == {status.value: 1}
    assert await world.events() == Counter({(f"task.{status}", task_id): 1})
    assert world.metrics.finished == _metric(status)
    [entry] = await world.service_log()
    assert _described(entry) == (task_id, f"task.{status}", "ERROR")
    assert text in entry["message"]
    assert [line["event"] for line in await world.logs.task_lines(task_id)] == ["output"]


async def test_finish_completed_records_every_side_effect_and_closes_its_batch(world):
    batch_id, [task_id] = await world.batch(1)
    [task] = await world.claim()
    await world.ending.finish([task], [_outcome(task, TaskStatus.COMPLETED)], [])

    lines = await world.logs.task_lines(task_id)
    assert [(line["event"], line["message"]) for line in lines] == [
        ("output", "hello from completed")
    ]
    assert await world.service_log() == []  # a success is not a service event
    assert await world.outcome_counts() == {"completed": 1}
    assert (await world.stats.read(CATEGORY)).completed_exec_total_s == pytest.approx(0.5)
    events = await world.events()
    assert events == Counter({("task.completed", task_id): 1, ("batch.completed", batch_id): 1})
    assert world.metrics.finished == _metric(TaskStatus.COMPLETED)
    assert await world.batch_state(batch_id) == (BatchStatus.COMPLETED, {"completed": 1})


async def test_finish_failed_records_the_failure_for_the_service_and_its_owner(world):
    task_id = await _finish_one(world, TaskStatus.FAILED, "RuntimeError")
    await _assert_failure_recorded(world, task_id, TaskStatus.FAILED, "RuntimeError: it broke")


async def test_a_timeout_records_the_timeout(world):
    task_id = await _finish_one(world, TaskStatus.TIMEOUT, "TimeoutError")
    await _assert_failure_recorded(world, task_id, TaskStatus.TIMEOUT, "TimeoutError: it broke")


async def test_a_lost_worker_given_up_on_records_a_failure_naming_it(world):
    task_id = await _finish_one(world, TaskStatus.FAILED, "WorkerLost")
    await _assert_failure_recorded(world, task_id, TaskStatus.FAILED, "WorkerLost: it broke")


async def test_a_retry_is_logged_and_counted_as_retried_but_is_not_an_end(world):
    batch_id, [task_id] = await world.batch(1)
    [task] = await world.claim()
    failed = _outcome(task, TaskStatus.FAILED, "RuntimeError")
    settled = await world.ending.finish([task], [], [Retry(failed, int(time.time() * 1000))])

    assert settled.final == [] and len(settled.retries) == 1
    assert await world.outcome_counts() == {"retried": 1}
    assert await world.events() == Counter()
    assert world.metrics.finished == Counter()
    assert await world.batch_state(batch_id) == (BatchStatus.RUNNING, {})
    lines = await world.logs.task_lines(task_id)
    assert [line["event"] for line in lines] == ["output", "retried"]
    assert [e["event"] for e in await world.service_log()] == ["retried"]


async def test_cancelling_a_queued_task_records_every_side_effect_and_stops_nothing(world):
    batch_id, [task_id, _other] = await world.batch(2)
    termination = await world.ending.cancel(task_id, time.time())

    assert (termination.outcome, termination.previous_status) == ("ended", "queued")
    assert (await world.tasks.get(task_id) or {})["status"] == "cancelled"
    [line] = await world.logs.task_lines(task_id)
    assert line["event"] == "task.cancelled"
    assert line["message"] == "cancelled: cancelled over the API"
    [entry] = await world.service_log()
    assert _described(entry) == (task_id, "task.cancelled", "WARNING")
    assert await world.outcome_counts() == {"cancelled": 1}
    assert await world.events() == Counter({("task.cancelled", task_id): 1})
    assert world.metrics.finished == _metric(TaskStatus.CANCELLED)
    assert await world.batch_state(batch_id) == (BatchStatus.RUNNING, {"cancelled": 1})
    assert await world.stopped() == set()


async def test_cancelling_a_running_task_publishes_its_stop_signal(world):
    [task_id] = await world.submit()
    await world.claim()
    termination = await world.ending.cancel(task_id, time.time())

    assert (termination.outcome, termination.previous_status) == ("ended", "running")
    assert await world.stopped() == {task_id}
    assert [e["event"] for e in await world.service_log()] == ["task.cancelled"]
    assert await world.outcome_counts() == {"cancelled": 1}
    assert await world.events() == Counter({("task.cancelled", task_id): 1})
    assert world.metrics.finished == _metric(TaskStatus.CANCELLED)


async def test_past_max_failures_the_batch_aborts_and_each_cancel_is_recorded(world):
    batch_id, ids = await world.batch(3, max_failures=0)
    claimed = {t.task_id: t for t in await world.claim(2)}  # the third stays queued
    failing, running = list(claimed)
    [queued] = set(ids) - set(claimed)
    await world.ending.finish(
        [claimed[failing]], [_outcome(claimed[failing], TaskStatus.FAILED, "RuntimeError")], []
    )

    assert await world.batch_state(batch_id) == (
        BatchStatus.ABORTED,
        {"failed": 1, "cancelled": 2},
    )
    assert await world.stopped() == {running}
    assert await world.outcome_counts() == {"failed": 1, "cancelled": 2}
    events = await world.events()
    assert events == Counter(
        {
            ("task.failed", failing): 1,
            ("task.cancelled", running): 1,
            ("task.cancelled", queued): 1,
            ("batch.completed", batch_id): 1,
        }
    )
    assert world.metrics.finished == _metric(TaskStatus.FAILED) + _metric(TaskStatus.CANCELLED, 2)
    cancels = [e for e in await world.service_log() if e["event"] == "task.cancelled"]
    assert {e["task_id"] for e in cancels} == {running, queued}
    assert all("its batch ended (max_failures exceeded)" in e["message"] for e in cancels)
    [line] = await world.logs.task_lines(queued)
    assert line["event"] == "task.cancelled"


async def test_past_batch_timeout_the_unfinished_tasks_end_as_timeout_and_are_recorded(world):
    batch_id, ids = await world.batch(2, timeout_s=1)
    [running] = await world.claim(1)
    [queued] = set(ids) - {running.task_id}
    await world.coordinator.expire_due(int(time.time() * 1000))

    assert await world.batch_state(batch_id) == (BatchStatus.TIMEOUT, {"timeout": 2})
    assert await world.stopped() == {running.task_id}
    assert await world.outcome_counts() == {"timeout": 2}
    events = await world.events()
    assert events == Counter(
        {
            ("task.timeout", running.task_id): 1,
            ("task.timeout", queued): 1,
            ("batch.completed", batch_id): 1,
        }
    )
    assert world.metrics.finished == _metric(TaskStatus.TIMEOUT, 2)
    entries = await world.service_log()
    assert {_described(e) for e in entries} == {
        (running.task_id, "task.timeout", "ERROR"),
        (queued, "task.timeout", "ERROR"),
    }
    [line] = await world.logs.task_lines(queued)
    assert line["message"] == "timeout: its batch ended (batch_timeout reached)"


async def test_a_task_ended_twice_is_counted_once(world):
    batch_id, [task_id] = await world.batch(1)
    [task] = await world.claim()
    assert (await world.ending.cancel(task_id, time.time())).outcome == "ended"

    late = await world.ending.finish([task], [_outcome(task, TaskStatus.COMPLETED)], [])
    again = await world.ending.cancel(task_id, time.time())
    await world.coordinator.end_unfinished(
        batch_id, TaskStatus.CANCELLED, BatchStatus.ABORTED, "max_failures exceeded"
    )

    assert late.final == [] and (again.outcome, again.previous_status) == ("terminal", "cancelled")
    assert await world.outcome_counts() == {"cancelled": 1}
    assert (await world.events())[("task.cancelled", task_id)] == 1
    assert world.metrics.finished == _metric(TaskStatus.CANCELLED)
    assert (await world.batch_state(batch_id))[1] == {"cancelled": 1}
    assert len(await world.service_log()) == 1
    lines = await world.logs.task_lines(task_id)
    assert [line["event"] for line in lines] == ["task.cancelled", "output"]
    assert lines[1]["attempt"] == task.attempt  # the late run's output, named by its attempt


async def test_the_output_is_in_the_task_s_log_before_its_end_is_written(world, monkeypatch):
    [task_id] = await world.submit()
    [task] = await world.claim()
    seen_at_settle: list[list[str]] = []
    settle = world.ending.dispatch.settle

    async def settle_looking_at_the_log(final, retries):
        seen_at_settle.append([line["event"] for line in await world.logs.task_lines(task_id)])
        return await settle(final, retries)

    monkeypatch.setattr(world.ending.dispatch, "settle", settle_looking_at_the_log)
    await world.ending.finish([task], [_outcome(task, TaskStatus.COMPLETED)], [])

    assert seen_at_settle == [["output"]]
    assert await world.outcome_counts() == {"completed": 1}
