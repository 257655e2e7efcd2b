"""The scheduler's side of task state: counting, claiming, finishing, retrying, re-queuing."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.domain import Priority, TaskField, TaskStatus, WorkerType
from vokaflow.domain.pool import PoolState
from vokaflow.domain.priority import (
    FAIR_QUANTUM_MS,
    FAIR_WINDOWS_MS,
    LEVEL_WEIGHT,
    LevelBacklog,
)
from vokaflow.domain.sla import SlaStarts
from vokaflow.domain.task import ClaimedTask, Outcome
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import LuaScripts, is_cluster, redis_boundary

RELEASE_BATCH = 1000
SLA_STARTS_KEPT_S = 2 * 3600 + 120  # the console shows the last hour


@dataclass(frozen=True)
class ClaimRequest:
    worker_type: WorkerType
    partition: int
    max_score: float
    count: int


# claim.lua's reply row, named by the record's hash fields
_CLAIM_ROW = (
    "id",
    TaskField.SPEC,
    TaskField.ATTEMPTS,
    TaskField.SCORE,
    TaskField.BATCH_ID,
    TaskField.SOLO,
    TaskField.SYSTEM_RETRIES,
    TaskField.REQUEUED_AT,
)


def _claimed(row: list[Any], worker_type: WorkerType) -> ClaimedTask:
    record = dict(zip(_CLAIM_ROW, row, strict=True))
    record[TaskField.ATTEMPTS] = str(record[TaskField.ATTEMPTS])  # the script's only number
    record[TaskField.WORKER_TYPE] = worker_type.value
    return ClaimedTask.from_record(record)


@dataclass(frozen=True)
class Retry:
    outcome: Outcome
    ready_at_ms: int


@dataclass(frozen=True)
class Settled:
    """The outcomes and retries that were written (not stale)."""

    final: list[Outcome]
    retries: list[Retry]
    with_children: frozenset[str] = frozenset()  # tasks of ``final`` that children wait for


@dataclass(frozen=True)
class Released:
    """What a pass over the schedules moved to the ready queues, and when the next is due."""

    count: int
    next_due_ms: int | None  # None: nothing is scheduled


class DispatchStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_s * 1000
        self.cluster = is_cluster(client)
        scripts = (
            "level_counts",
            "claim",
            "finish",
            "retry",
            "requeue",
            "release_due",
            "release_held",
            "promote",
            "cc_sweep",
        )
        self.lua = LuaScripts(client, scripts)

    @redis_boundary
    async def level_counts(
        self, pools: Iterable[WorkerType]
    ) -> dict[WorkerType, dict[int, LevelBacklog]]:
        """Ready tasks per pool, partition and priority level, in one round trip: one script
        call per pool on a single node, one per partition (its own slot) on a cluster."""
        pools = list(pools)
        per_call = 1 if self.cluster else self.keys.partitions
        pipe = self.redis.pipeline(transaction=False)
        for worker_type in pools:
            queues = [self.keys.queue(p, worker_type) for p in range(self.keys.partitions)]
            for start in range(0, len(queues), per_call):
                self.lua.queue(
                    pipe, "level_counts", queues[start : start + per_call], [LEVEL_WEIGHT]
                )
        flat_replies = [int(n) for reply in await pipe.execute() for n in reply]
        levels = len(Priority)
        per_queue = 2 * levels
        per_pool = per_queue * self.keys.partitions
        backlogs: dict[WorkerType, dict[int, LevelBacklog]] = {}
        for index, worker_type in enumerate(pools):
            flat = flat_replies[index * per_pool : (index + 1) * per_pool]
            backlogs[worker_type] = {
                p: LevelBacklog(
                    flat[p * per_queue : p * per_queue + levels],
                    flat[p * per_queue + levels : (p + 1) * per_queue],
                )
                for p in range(self.keys.partitions)
            }
        return backlogs

    @redis_boundary
    async def claim(self, requests: Sequence[ClaimRequest], now_s: float) -> list[ClaimedTask]:
        pipe = self.redis.pipeline(transaction=False)
        for request in requests:
            keys = [
                self.keys.queue(request.partition, request.worker_type),
                self.keys.running(request.partition),
            ]
            args: list[str | int | float] = [
                request.max_score,
                request.count,
                repr(now_s),
                self.keys.task_prefix(request.partition),
                self.keys.partition_prefix(request.partition),
            ]
            self.lua.queue(pipe, "claim", keys, args)
        replies = await pipe.execute()
        return [
            _claimed(row, request.worker_type)
            for request, rows in zip(requests, replies, strict=True)
            for row in rows
        ]

    @redis_boundary
    async def settle(self, finished: Sequence[Outcome], retries: Sequence[Retry]) -> Settled:
        """Write final outcomes and scheduled retries in one round trip.

        Returns those that were current (a task cancelled or re-queued meanwhile keeps its
        state, and its outcome is stale), and counts each function's run times for estimates.
        """
        pipe = self.redis.pipeline(transaction=False)
        by_partition = self._by_partition(finished)
        self._queue_finishes(pipe, by_partition)
        for retry in retries:
            outcome = retry.outcome
            keys = [*self._task_and_running(outcome.task_id), self._delayed_of(outcome.task_id)]
            args: list[str | int] = [
                outcome.task_id,
                outcome.attempt,
                retry.ready_at_ms,
                self.keys.partition_prefix(self.keys.partition(outcome.task_id)),
                *outcome.retry_fields(),
            ]
            self.lua.queue(pipe, "retry", keys, args)
        self._count_run_times(pipe, finished)
        if finished:
            second_key = f"{self.keys.completions_prefix()}{int(time.time())}"
            pipe.incrby(second_key, len(finished))
            pipe.expire(second_key, 120)
        replies = await pipe.execute()
        final_replies = [
            reply for reply_list in replies[: len(by_partition)] for reply in reply_list
        ]
        retry_replies = replies[len(by_partition) : len(by_partition) + len(retries)]
        in_order = [outcome for outcomes in by_partition.values() for outcome in outcomes]
        written = list(zip(in_order, final_replies, strict=True))
        return Settled(
            final=[o for o, reply in written if reply in (1, 2)],
            retries=[r for r, reply in zip(retries, retry_replies, strict=True) if reply == 1],
            with_children=frozenset(o.task_id for o, reply in written if reply == 2),
        )

    def _by_partition(self, finished: Sequence[Outcome]) -> dict[int, list[Outcome]]:
        by_partition: dict[int, list[Outcome]] = defaultdict(list)
        for outcome in finished:
            by_partition[self.keys.partition(outcome.task_id)].append(outcome)
        return by_partition

    def _queue_finishes(self, pipe: Any, by_partition: dict[int, list[Outcome]]) -> None:
        """One finish.lua call per partition, for all its outcomes."""
        now_ms = int(time.time() * 1000)
        for partition, outcomes in by_partition.items():
            args: list[str | int] = [
                self.retention_ms,
                now_ms,
                self.keys.partition_prefix(partition),
            ]
            for outcome in outcomes:
                fields = outcome.to_fields()
                dead = "1" if outcome.status == TaskStatus.FAILED else "0"
                args += [outcome.task_id, outcome.attempt, dead, outcome.status.value]
                args.append(len(fields))
                args += fields
            keys = [self.keys.running(partition), self.keys.dead_letters(partition)]
            self.lua.queue(pipe, "finish", keys, args)

    def _count_run_times(self, pipe: Any, finished: Sequence[Outcome]) -> None:
        totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for outcome in finished:
            if outcome.status == TaskStatus.COMPLETED and outcome.function_name:
                totals[outcome.function_name][0] += 1
                totals[outcome.function_name][1] += outcome.execution_time
        for name, (count, total_s) in totals.items():
            pipe.hincrby(self.keys.function_stats, f"{name}:count", int(count))
            pipe.hincrbyfloat(self.keys.function_stats, f"{name}:total_s", total_s)

    @redis_boundary
    async def requeue(self, tasks: Sequence[tuple[str, int]], *, solo: bool) -> int:
        """Put running (task id, attempt) pairs back in their queues: a system retry."""
        by_partition: dict[int, list[str | int]] = defaultdict(list)
        for task_id, attempt in tasks:
            by_partition[self.keys.partition(task_id)].extend([task_id, attempt])
        pipe = self.redis.pipeline(transaction=False)
        for partition, pairs in by_partition.items():
            args = [
                *self._prefixes(partition),
                "1" if solo else "0",
                *self._part(partition),
                *pairs,
            ]
            self.lua.queue(pipe, "requeue", [self.keys.running(partition)], args)
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def requeue_claimed_at(self, now_s: float) -> int:
        """Put back in their queues the tasks a claim with this dispatch time moved to the
        running sets, when its reply never came (Redis went away mid-call): no worker has
        them. claim.lua scores them with that time, which no other claim shares."""
        pipe = self.redis.pipeline(transaction=False)
        stamp = repr(now_s)
        for partition in range(self.keys.partitions):
            pipe.zrangebyscore(self.keys.running(partition), stamp, stamp)
        ids = [str(task_id) for found in await pipe.execute() for task_id in found]
        if not ids:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self.keys.task(task_id), TaskField.ATTEMPTS)
        attempts = await pipe.execute()
        pairs = [(i, int(a)) for i, a in zip(ids, attempts, strict=True) if a is not None]
        return await self.requeue(pairs, solo=False)

    @redis_boundary
    async def requeue_all_running(self) -> int:
        """After a scheduler restart: its predecessor's in-flight work is gone with it."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            args = [*self._prefixes(partition), "0", *self._part(partition)]
            self.lua.queue(pipe, "requeue", [self.keys.running(partition)], args)
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def release_due(self, now_ms: int) -> Released:
        """Move what is due from every partition's retry schedule and delayed-task schedule
        to the ready queues; one script per partition."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            task_prefix, queue_prefix = self._prefixes(partition)
            args: list[str | int | float] = [
                now_ms,
                task_prefix,
                queue_prefix,
                LEVEL_WEIGHT,
                RELEASE_BATCH,
                self.keys.fair_prefix(partition),
                FAIR_QUANTUM_MS,
                *FAIR_WINDOWS_MS,
            ]
            keys = [self.keys.delayed(partition), self.keys.scheduled(partition)]
            self.lua.queue(pipe, "release_due", keys, args)
        replies = await pipe.execute()
        dues = [int(float(due)) for _, due in replies if due not in ("", b"")]
        return Released(sum(int(n) for n, _ in replies), min(dues) if dues else None)

    @redis_boundary
    async def release_held(self, task_id: str, now_ms: int) -> bool:
        """Queue a held batch task at the back of its level (a delayed one not yet due: on
        the schedule); False if it no longer waits."""
        partition = self.keys.partition(task_id)
        args = [task_id, self.keys.queue_prefix(partition), now_ms, LEVEL_WEIGHT]
        keys = [self.keys.task(task_id), self.keys.scheduled(partition)]
        return bool(await self.lua.run("release_held", keys, args))

    @redis_boundary
    async def promote_starving(
        self, now_ms: int, wait_ms_by_level: Sequence[int], top_level: int
    ) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for worker_type in WorkerType:
            for partition in range(self.keys.partitions):
                keys = [self.keys.queue(partition, worker_type)]
                args: list[str | int | float] = [
                    now_ms,
                    LEVEL_WEIGHT,
                    top_level,
                    self.keys.task_prefix(partition),
                    RELEASE_BATCH,
                    *wait_ms_by_level,
                ]
                self.lua.queue(pipe, "promote", keys, args)
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def results_of(self, task_ids: Sequence[str]) -> dict[str, str | None]:
        """Each task's stored result (JSON), None where it has none."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hget(self.keys.task(task_id), TaskField.RESULT)
        replies = await pipe.execute()
        return {t: None if r is None else str(r) for t, r in zip(task_ids, replies, strict=True)}

    @redis_boundary
    async def sweep_concurrency_keys(self) -> int:
        """cc_sweep.lua on every partition: running ids of concurrency keys whose task no
        longer runs are forgotten, and waiting tasks go back to their queues while their key
        has room. Returns how many went back."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            self.lua.queue(pipe, "cc_sweep", [], self._part(partition))
        return int(sum(await pipe.execute()))

    @redis_boundary
    async def mark_started(
        self, task_ids: Sequence[str], worker_pid: int, started_at: float
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hset(
                self.keys.task(task_id),
                mapping={TaskField.WORKER_PID: worker_pid, TaskField.STARTED_AT: repr(started_at)},
            )
        await pipe.execute()

    @redis_boundary
    async def beat(
        self,
        now_s: float,
        pools: dict[WorkerType, PoolState],
        ttl_s: int,
        sla_starts: SlaStarts | None = None,
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.keys.scheduler_heartbeat, repr(now_s), ex=ttl_s)
        if pools:
            pipe.hset(
                self.keys.pool_states, mapping={wt.value: json.dumps(s) for wt, s in pools.items()}
            )
        for minute, counts in (sla_starts or {}).items():
            key = self.keys.sla_starts(minute)
            for field, n in counts.items():
                pipe.hincrby(key, field, n)
            pipe.expire(key, SLA_STARTS_KEPT_S)
        await pipe.execute()

    def _part(self, partition: int) -> list[str]:
        return [self.keys.partition_prefix(partition)]

    def _task_and_running(self, task_id: str) -> list[str]:
        return [self.keys.task(task_id), self.keys.running(self.keys.partition(task_id))]

    def _delayed_of(self, task_id: str) -> str:
        return self.keys.delayed(self.keys.partition(task_id))

    def _prefixes(self, partition: int) -> tuple[str, str]:
        return self.keys.task_prefix(partition), self.keys.queue_prefix(partition)
