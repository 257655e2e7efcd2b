"""The task store: every read and write of task state goes through here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.schemas import Priority, WorkerType
from vokaflow.store.keys import Keys
from vokaflow.store.records import NewTask, Outcome
from vokaflow.store.redis_client import lua_source, redis_boundary


@dataclass(frozen=True)
class Candidate:
    """A ready task seen at the head of a partition's queue."""

    score: float
    partition: int
    task_id: str


@dataclass(frozen=True)
class ClaimRequest:
    worker_type: WorkerType
    partition: int
    max_score: float
    count: int


@dataclass(frozen=True)
class ClaimedTask:
    task_id: str
    function_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    timeout_s: float
    attempt: int
    priority: str
    worker_type: WorkerType

    @classmethod
    def from_row(cls, row: list[Any], worker_type: WorkerType) -> ClaimedTask:
        """Read one row of claim.lua's reply."""
        task_id, function_name, args, kwargs, timeout, attempt, priority = row
        return cls(
            task_id=task_id,
            function_name=function_name,
            args=json.loads(args),
            kwargs=json.loads(kwargs),
            timeout_s=float(timeout),
            attempt=int(attempt),
            priority=priority,
            worker_type=worker_type,
        )

    @property
    def priority_level(self) -> int:
        return Priority(self.priority).level


class TaskStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._submit = client.register_script(lua_source("submit"))
        self._claim = client.register_script(lua_source("claim"))
        self._finish = client.register_script(lua_source("finish"))
        self._cancel = client.register_script(lua_source("cancel"))
        self._requeue = client.register_script(lua_source("requeue_running"))

    # ------------------------------------------------------------ gateway side

    @redis_boundary
    async def submit(self, tasks: Sequence[NewTask], *, with_positions: bool) -> list[int | None]:
        """Write and enqueue tasks and wake the scheduler, in one round trip.

        Returns each task's queue position when asked for (16 ZCOUNTs a task), else None.
        """
        pipe = self.redis.pipeline(transaction=False)
        for task in tasks:
            keys = [self.keys.task(task.task_id), self.keys.queue(task.partition, task.worker_type)]
            await self._submit(
                keys=keys, args=[task.task_id, task.score, *task.to_fields()], client=pipe
            )
            if with_positions:
                for partition in range(self.keys.partitions):
                    pipe.zcount(
                        self.keys.queue(partition, task.worker_type), "-inf", f"({task.score}"
                    )
        pipe.publish(self.keys.wakeup_channel, "1")
        replies = await pipe.execute()
        if not with_positions:
            return [None] * len(tasks)
        stride = 1 + self.keys.partitions
        return [sum(replies[i * stride + 1 : (i + 1) * stride]) for i in range(len(tasks))]

    @redis_boundary
    async def get(self, task_id: str) -> dict[str, str] | None:
        record = await self.redis.hgetall(self.keys.task(task_id))
        return {str(k): str(v) for k, v in record.items()} or None

    @redis_boundary
    async def queue_position(self, worker_type: WorkerType, score: float) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zcount(self.keys.queue(partition, worker_type), "-inf", f"({score}")
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def cancel(self, task_id: str, now_s: float) -> tuple[str, str]:
        partition = self.keys.partition(task_id)
        keys = [self.keys.task(task_id), self.keys.running(partition)]
        args = [task_id, repr(now_s), self.keys.queue_prefix(partition)]
        outcome, previous = await self._cancel(keys=keys, args=args)
        if outcome == "cancelled" and previous == "running":
            await self.redis.publish(self.keys.cancel_channel, task_id)
        return str(outcome), str(previous)

    @redis_boundary
    async def notify_scheduler(self) -> None:
        await self.redis.publish(self.keys.wakeup_channel, "1")

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
        averages: dict[str, float] = {}
        async for key in self.redis.scan_iter(match=self.keys.function_stats("*"), count=500):
            stats = await self.redis.hgetall(key)
            count = int(stats.get("count", 0))
            if count:
                name = key.rsplit(":", 1)[-1]
                averages[name] = float(stats.get("total_s", 0.0)) / count
        return averages

    @redis_boundary
    async def pool_capacity(self) -> dict[WorkerType, int]:
        raw = await self.redis.hgetall(self.keys.pool_capacity)
        return {WorkerType(k): int(v) for k, v in raw.items() if k in WorkerType.__members__}

    # ------------------------------------------------------------ scheduler side

    @redis_boundary
    async def peek(self, wanted: dict[WorkerType, int]) -> dict[WorkerType, list[Candidate]]:
        """The first ``wanted[pool]`` ready tasks of every partition of each pool."""
        pipe = self.redis.pipeline(transaction=False)
        order: list[tuple[WorkerType, int]] = []
        for worker_type, count in wanted.items():
            for partition in range(self.keys.partitions):
                pipe.zrange(self.keys.queue(partition, worker_type), 0, count - 1, withscores=True)
                order.append((worker_type, partition))
        replies = await pipe.execute()
        found: dict[WorkerType, list[Candidate]] = {wt: [] for wt in wanted}
        for (worker_type, partition), members in zip(order, replies, strict=True):
            found[worker_type].extend(Candidate(score, partition, tid) for tid, score in members)
        return found

    @redis_boundary
    async def claim(
        self, requests: Iterable[ClaimRequest], lease_deadline_ms: int, now_s: float
    ) -> list[ClaimedTask]:
        pipe = self.redis.pipeline(transaction=False)
        pools: list[WorkerType] = []
        for request in requests:
            keys = [
                self.keys.queue(request.partition, request.worker_type),
                self.keys.running(request.partition),
            ]
            args: list[str | int | float] = [
                request.max_score,
                request.count,
                lease_deadline_ms,
                repr(now_s),
                self.keys.task_prefix(request.partition),
            ]
            await self._claim(keys=keys, args=args, client=pipe)
            pools.append(request.worker_type)
        replies = await pipe.execute()
        return [
            ClaimedTask.from_row(row, worker_type)
            for worker_type, rows in zip(pools, replies, strict=True)
            for row in rows
        ]

    @redis_boundary
    async def finish(self, outcomes: Sequence[Outcome]) -> int:
        """Write outcomes and per-function timing stats; returns how many were current."""
        pipe = self.redis.pipeline(transaction=False)
        script_replies: list[int] = []
        for outcome in outcomes:
            script_replies.append(len(pipe))
            partition = self.keys.partition(outcome.task_id)
            keys = [self.keys.task(outcome.task_id), self.keys.running(partition)]
            args: list[str | int] = [outcome.task_id, outcome.attempt, *outcome.to_fields()]
            await self._finish(keys=keys, args=args, client=pipe)
            if outcome.status == "completed" and outcome.function_name:
                stats_key = self.keys.function_stats(outcome.function_name)
                pipe.hincrby(stats_key, "count", 1)
                pipe.hincrbyfloat(stats_key, "total_s", outcome.execution_time)
        replies = await pipe.execute()
        return sum(1 for index in script_replies if replies[index] == 1)

    @redis_boundary
    async def requeue_running(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            args = [self.keys.task_prefix(partition), self.keys.queue_prefix(partition)]
            await self._requeue(keys=[self.keys.running(partition)], args=args, client=pipe)
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def beat(self, now_s: float, pool_capacity: dict[WorkerType, int], ttl_s: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.scheduler_heartbeat, repr(now_s), ex=ttl_s)
        pipe.hset(self.keys.pool_capacity, mapping={wt.value: n for wt, n in pool_capacity.items()})
        await pipe.execute()
