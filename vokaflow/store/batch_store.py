"""Batches: a record with counts per outcome, the ordered task ids, and the held ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

TERMINAL_COUNTS = ("completed", "failed", "cancelled", "timeout")
PAGE = 1000


def terminal_counts(record: dict[str, str]) -> dict[str, int]:
    """A batch record's count of tasks per terminal status."""
    return {status: int(record.get(f"n_{status}", "0")) for status in TERMINAL_COUNTS}


@dataclass
class BatchRecord:
    batch_id: str
    owner: str
    execution_mode: str
    total: int
    released: int
    created_at: float
    batch_timeout_s: int | None
    max_failures: int | None
    worker_type: str

    def to_mapping(self) -> dict[str, str]:
        return {
            "id": self.batch_id,
            "owner": self.owner,
            "execution_mode": self.execution_mode,
            "total": str(self.total),
            "released": str(self.released),
            "created_at": repr(self.created_at),
            "batch_timeout": "" if self.batch_timeout_s is None else str(self.batch_timeout_s),
            "max_failures": "" if self.max_failures is None else str(self.max_failures),
            "worker_type": self.worker_type,
            "status": "running",
            **{f"n_{status}": "0" for status in TERMINAL_COUNTS},
        }


class BatchStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_s = retention_s

    @redis_boundary
    async def create(
        self,
        batch: BatchRecord,
        task_ids: Sequence[str],
        held: Sequence[str],
        errors_json: str = "[]",
    ) -> bool:
        """Write a new batch; False, writing nothing, when its id exists (a repeated
        idempotency key). The refused tasks' errors are kept for a replayed answer."""
        if not await self.redis.hsetnx(self.keys.batch(batch.batch_id), "id", batch.batch_id):
            return False
        pipe = self.redis.pipeline(transaction=False)
        mapping: dict[Any, Any] = {**batch.to_mapping(), "errors": errors_json}
        pipe.hset(self.keys.batch(batch.batch_id), mapping=mapping)
        pipe.sadd(self.keys.running_batches, batch.batch_id)
        for start in range(0, len(task_ids), PAGE):
            pipe.rpush(self.keys.batch_tasks(batch.batch_id), *task_ids[start : start + PAGE])
        for start in range(0, len(held), PAGE):
            pipe.rpush(self.keys.batch_held(batch.batch_id), *held[start : start + PAGE])
        if batch.batch_timeout_s is not None:
            deadline_ms = int((batch.created_at + batch.batch_timeout_s) * 1000)
            pipe.zadd(self.keys.batch_deadlines, {batch.batch_id: deadline_ms})
        await pipe.execute()
        return True

    @redis_boundary
    async def get(self, batch_id: str) -> dict[str, str] | None:
        record = await self.redis.hgetall(self.keys.batch(batch_id))
        return {str(k): str(v) for k, v in record.items()} or None

    @redis_boundary
    async def count_terminal(self, batch_id: str, status: str, n: int = 1) -> None:
        if status in TERMINAL_COUNTS and n:
            await self.redis.hincrby(self.keys.batch(batch_id), f"n_{status}", n)

    @redis_boundary
    async def notify(self, batch_id: str) -> None:
        """Let the scheduler move a batch on (release its next task, or close it)."""
        await self.redis.publish(self.keys.batch_channel, batch_id)

    @redis_boundary
    async def next_held(self, batch_id: str) -> str | None:
        task_id = await self.redis.lpop(self.keys.batch_held(batch_id))
        if task_id is not None:
            await self.redis.hincrby(self.keys.batch(batch_id), "released", 1)
        return None if task_id is None else str(task_id)

    @redis_boundary
    async def task_ids(self, batch_id: str, start: int, count: int = PAGE) -> list[str]:
        ids = await self.redis.lrange(self.keys.batch_tasks(batch_id), start, start + count - 1)
        return [str(i) for i in ids]

    @redis_boundary
    async def close(self, batch_id: str, status: str, now_s: float) -> bool:
        """Set the final status once, and let the batch expire after the retention period;
        False when another path closed it first."""
        key = self.keys.batch(batch_id)
        pipe = self.redis.pipeline(transaction=False)  # spans slots; each step is idempotent
        pipe.hsetnx(key, "finished_at", repr(now_s))
        pipe.zrem(self.keys.batch_deadlines, batch_id)
        pipe.srem(self.keys.running_batches, batch_id)
        pipe.delete(self.keys.batch_held(batch_id))
        first, *_ = await pipe.execute()
        if first:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(key, "status", status)
            if self.retention_s:
                pipe.expire(key, self.retention_s)
                pipe.expire(self.keys.batch_tasks(batch_id), self.retention_s)
            await pipe.execute()
        return bool(first)

    @redis_boundary
    async def running(self) -> list[str]:
        return [str(batch_id) for batch_id in await self.redis.smembers(self.keys.running_batches)]

    @redis_boundary
    async def recount(self, batch_id: str) -> None:
        """Set the batch's outcome counts from its tasks' records. The scheduler counts each
        outcome after writing it; one that died in between would leave the batch short."""
        counts = dict.fromkeys(TERMINAL_COUNTS, 0)
        start = 0
        while ids := await self.task_ids(batch_id, start):
            pipe = self.redis.pipeline(transaction=False)
            for task_id in ids:
                pipe.hget(self.keys.task(task_id), "status")
            for status in await pipe.execute():
                if status in counts:
                    counts[status] += 1
            start += PAGE
        await self.redis.hset(
            self.keys.batch(batch_id), mapping={f"n_{s}": n for s, n in counts.items()}
        )

    @redis_boundary
    async def due(self, now_ms: int) -> list[str]:
        ids = await self.redis.zrangebyscore(self.keys.batch_deadlines, "-inf", now_ms)
        return [str(i) for i in ids]
