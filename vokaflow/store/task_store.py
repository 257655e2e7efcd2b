"""The gateway's side of task state: submit, read, position, terminate."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.domain import TaskField, TaskStatus, WorkerType
from vokaflow.domain.pool import PoolState
from vokaflow.domain.priority import FAIR_QUANTUM_MS, LEVEL_WEIGHT, fair_window_ms
from vokaflow.domain.task import TaskSpec
from vokaflow.ratelimit.bucket import Decision
from vokaflow.store.keys import Keys
from vokaflow.store.rate_limits import RateLimiter
from vokaflow.store.redis_client import LuaScripts, is_cluster, redis_boundary


@dataclass(frozen=True)
class Termination:
    outcome: str  # "ended", "terminal" (already finished) or "missing"
    previous_status: str
    batch_id: str


# How long a waiting child is left to its parents' ends before a sweep checks its parents
# itself (lifecycle.dependencies): a parent's end that never told it delays it by this.
DEPENDENCY_CHECK_MS = 30_000


class TaskStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_s * 1000
        self.cluster = is_cluster(client)
        self.lua = LuaScripts(client, ["submit", "submit_one", "terminate"])

    async def subscribe(self, *channels: str) -> Any:
        """A pub/sub connection subscribed to ``channels``; read it with get_message."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(*channels)
        return pubsub

    @redis_boundary
    async def submit(
        self, tasks: Sequence[TaskSpec], also: Callable[[Any], None] | None = None
    ) -> list[float]:
        """Write and enqueue tasks (rate limits already taken) and wake the scheduler, in one
        round trip with whatever ``also`` adds to its pipeline. Held tasks are written but
        wait for their batch to release them. Returns each task's score where it waits (its
        fair place in its level), 0 for an id that existed. One script call per partition:
        a batch's tasks of one partition are written, and placed, together."""
        by_partition: dict[int, list[int]] = defaultdict(list)
        for index, task in enumerate(tasks):
            by_partition[task.partition].append(index)
        pipe = self.redis.pipeline(transaction=False)
        for partition, indices in by_partition.items():
            args: list[Any] = [
                self.keys.partition_prefix(partition),
                LEVEL_WEIGHT,
                FAIR_QUANTUM_MS,
                len(indices),
            ]
            for index in indices:
                args += self._submit_args(tasks[index])
            self.lua.queue(pipe, "submit", [self.keys.running(partition)], args)
        pools = ",".join(sorted({task.worker_type.value for task in tasks}))
        pipe.execute_command("PUBLISH", self.keys.wakeup_channel, pools)  # as LuaScripts.queue
        if also is not None:
            also(pipe)
        replies = await pipe.execute()
        scores = [0.0] * len(tasks)
        for indices, reply in zip(by_partition.values(), replies, strict=False):
            for index, score in zip(indices, reply, strict=True):
                scores[index] = float(score)
        return scores

    def _submit_args(self, task: TaskSpec) -> list[Any]:
        """One task's part of submit.lua's arguments."""
        fields = task.to_fields()
        waits = self._waits_in(task)[len(self.keys.partition_prefix(task.partition)) :]
        mode = "1" if task.hold else self._enqueue_mode(task)
        window = fair_window_ms(task.priority.level)
        head = [task.task_id, self._score_there(task), mode, task.owner, window, waits]
        return [*head, task.created_ms, task.function_name, len(fields), *fields]

    @redis_boundary
    async def submit_one(self, task: TaskSpec, limiter: RateLimiter) -> tuple[Decision | None, int]:
        """Take a token of the task's category and, if granted, write and enqueue the task,
        in one round trip. Returns the rate decision and the tasks ahead of it; no decision
        when a task with this id exists already (a repeated idempotency key)."""
        if self.cluster:
            return await self._submit_one_slot_by_slot(task, limiter)
        limit = limiter.limits[task.category]
        queues = [self.keys.queue(p, task.worker_type) for p in range(self.keys.partitions)]
        keys = [
            self.keys.rate_bucket(task.category),
            self.keys.task(task.task_id),
            self._waits_in(task),
            self._fair_clock(task),
            *(queues if task.ready_now else []),  # for its position: none ahead yet
        ]
        args = [
            limit.limit_per_second,
            limit.burst,
            self.keys.rate_usage_prefix(task.category),
            task.task_id,
            self._score_there(task),
            self.keys.wakeup_channel,
            task.worker_type.value,
            self.keys.owner_rate_usage_prefix(task.category, task.owner),
            self._enqueue_mode(task),
            LEVEL_WEIGHT,
            FAIR_QUANTUM_MS,
            task.owner,
            fair_window_ms(task.priority.level),
            self.keys.partition_prefix(task.partition),
            task.created_ms,
            task.function_name,
            *task.to_fields(),
        ]
        reply = await self.lua.run("submit_one", keys, args)
        if int(reply[0]) == 2:
            return None, 0
        return Decision.from_script(reply, 1, limit), int(reply[4])

    async def _submit_one_slot_by_slot(
        self, task: TaskSpec, limiter: RateLimiter
    ) -> tuple[Decision | None, int]:
        """On Redis Cluster the bucket, the record and the pool's queues are in different
        slots, so one script cannot hold them: check, take a token, write, then count."""
        if await self.redis.exists(self.keys.task(task.task_id)):
            return None, 0
        decision = await limiter.take(task.category, 1, partial=False, owner=task.owner)
        if decision.refused:
            return decision, 0
        (score,) = await self.submit([task])
        if not task.ready_now:
            return decision, 0
        return decision, await self.queue_position(task.worker_type, score)

    def _waits_in(self, task: TaskSpec) -> str:
        """A new task's sorted set: its ready queue, its partition's schedule if delayed, or
        the partition's waiting index while it has parents."""
        if task.depends_on:
            return self.keys.waiting(task.partition)
        if task.run_at is None:
            return self.keys.queue(task.partition, task.worker_type)
        return self.keys.scheduled(task.partition)

    def _fair_clock(self, task: TaskSpec) -> str:
        return self.keys.fair(task.partition, task.worker_type, task.priority.level)

    @staticmethod
    def _enqueue_mode(task: TaskSpec) -> str:
        """'0': at its fair place in its level; '2': at its plain score, on the schedule or
        the waiting index (its fair place is found when it is released)."""
        return "0" if task.ready_now else "2"

    @staticmethod
    def _score_there(task: TaskSpec) -> float:
        if task.depends_on:  # the waiting index's score: when a sweep first looks at it
            return task.due_ms + DEPENDENCY_CHECK_MS
        return task.score if task.run_at is None else task.due_ms

    @redis_boundary
    async def get(self, task_id: str) -> dict[str, str] | None:
        record = await self.redis.hgetall(self.keys.task(task_id))
        return {str(k): str(v) for k, v in record.items()} or None

    @redis_boundary
    async def spec(self, task_id: str) -> str | None:
        """The record's spec field (what never changes after submit), or None."""
        spec = await self.redis.hget(self.keys.task(task_id), TaskField.SPEC)
        return None if spec is None else str(spec)

    @redis_boundary
    async def get_records(self, task_ids: Sequence[str]) -> list[dict[str, str] | None]:
        """Whole records in one round trip; None where a record does not exist (or expired)."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.keys.task(task_id))
        replies = await pipe.execute()
        return [{str(k): str(v) for k, v in reply.items()} or None for reply in replies]

    @redis_boundary
    async def get_many(
        self, task_ids: Sequence[str], fields: Sequence[str]
    ) -> list[list[str | None]]:
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hmget(self.keys.task(task_id), list(fields))
        return list(await pipe.execute())

    @redis_boundary
    async def queue_position(self, worker_type: WorkerType, score: float) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zcount(self.keys.queue(partition, worker_type), "-inf", f"({score!r}")
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def terminate(
        self, task_id: str, status: str, now_s: float, error_json: str = ""
    ) -> Termination:
        """End a scheduled, queued or running task as ``status``; a running one's worker is
        told to stop."""
        keys, args = self._terminate_call(task_id, status, now_s, error_json)
        outcome, previous, batch_id = await self.lua.run("terminate", keys, args)
        if outcome == "ended" and previous == TaskStatus.RUNNING:
            await self.redis.publish(self.keys.cancel_channel, task_id)
        return Termination(str(outcome), str(previous), str(batch_id))

    def _terminate_call(
        self, task_id: str, status: str, now_s: float, error_json: str
    ) -> tuple[list[str], list[str | int]]:
        """terminate.lua's keys and arguments for one task."""
        partition = self.keys.partition(task_id)
        keys = [
            self.keys.task(task_id),
            self.keys.running(partition),
            self.keys.delayed(partition),
            self.keys.scheduled(partition),
        ]
        queues = self.keys.queue_prefix(partition)
        return keys, [
            task_id,
            repr(now_s),
            queues,
            status,
            error_json,
            self.retention_ms,
            self.keys.partition_prefix(partition),
        ]

    @redis_boundary
    async def terminate_many(
        self, task_ids: Sequence[str], status: str, now_s: float, error_json: str = ""
    ) -> list[tuple[str, Termination]]:
        """terminate() for many tasks in one round trip; signal_stop stops running ones."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            keys, args = self._terminate_call(task_id, status, now_s, error_json)
            self.lua.queue(pipe, "terminate", keys, args)
        replies = await pipe.execute()
        return [
            (task_id, Termination(str(o), str(p), str(b)))
            for task_id, (o, p, b) in zip(task_ids, replies, strict=True)
        ]

    @redis_boundary
    async def signal_stop(self, task_ids: Sequence[str]) -> None:
        """Tell the scheduler to stop the workers of these ended tasks (terminate_many's)."""
        if not task_ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.execute_command("PUBLISH", self.keys.cancel_channel, task_id)
        await pipe.execute()

    @redis_boundary
    async def draining(self) -> bool:
        return bool(await self.redis.exists(self.keys.draining))

    @redis_boundary
    async def notify_scheduler(self, pools: str = "*") -> None:
        """Wake the scheduler for these pools (comma-separated worker types, or all)."""
        await self.redis.publish(self.keys.wakeup_channel, pools)

    @redis_boundary
    async def ping(self) -> None:
        await self.redis.ping()

    @redis_boundary
    async def scheduler_heartbeat(self) -> float | None:
        raw = await self.redis.get(self.keys.scheduler_heartbeat)
        return float(raw) if raw else None

    @redis_boundary
    async def queue_sizes(self) -> dict[WorkerType, int]:
        pipe = self.redis.pipeline(transaction=False)
        for worker_type in WorkerType:
            for partition in range(self.keys.partitions):
                pipe.zcard(self.keys.queue(partition, worker_type))
        counts = await pipe.execute()
        n = self.keys.partitions
        return {wt: int(sum(counts[i * n : (i + 1) * n])) for i, wt in enumerate(WorkerType)}

    @redis_boundary
    async def function_averages(self) -> dict[str, float]:
        """Mean execution time in seconds of each function that has completed at least once."""
        stats = await self.redis.hgetall(self.keys.function_stats)
        averages: dict[str, float] = {}
        for field, value in stats.items():
            name, _, kind = str(field).rpartition(":")
            count = int(stats.get(f"{name}:count", 0))
            if kind == "total_s" and count:
                averages[name] = float(value) / count
        return averages

    @redis_boundary
    async def pool_states(self) -> dict[WorkerType, PoolState]:
        """What the scheduler last said of each pool (its heartbeat)."""
        raw = await self.redis.hgetall(self.keys.pool_states)
        return {WorkerType(k): json.loads(v) for k, v in raw.items() if k in WorkerType.__members__}
