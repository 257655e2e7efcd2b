"""Dead letters: tasks that failed after all their retries, listed per partition until
their records expire, and sent back to their queues on request."""

from __future__ import annotations

import heapq
import time

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.records import LEVEL_WEIGHT, task_owner
from vokaflow.store.redis_client import LuaScripts, redis_boundary

# Listing reads at most this many of the newest dead letters of each partition.
SCAN_PER_PARTITION = 5000


class DeadLetterStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_s * 1000
        self.lua = LuaScripts(client, ["requeue_dead"])

    @redis_boundary
    async def newest(self, owner: str | None, offset: int, limit: int) -> tuple[int, list[str]]:
        """(How many there are, the ids of one page), newest failure first; ``owner`` None
        lists everyone's."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zrevrange(
                self.keys.dead_letters(partition), 0, SCAN_PER_PARTITION - 1, withscores=True
            )
        per_partition = await pipe.execute()
        merged = heapq.merge(*per_partition, key=lambda pair: -pair[1])
        ids = [str(task_id) for task_id, _ in merged]
        if owner is not None:
            ids = await self._owned_by(ids, owner)
        return len(ids), ids[offset : offset + limit]

    async def _owned_by(self, ids: list[str], owner: str) -> list[str]:
        pipe = self.redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self.keys.task(task_id), "spec")
        specs = await pipe.execute()
        return [
            task_id
            for task_id, spec in zip(ids, specs, strict=True)
            if spec is not None and task_owner(spec) == owner
        ]

    @redis_boundary
    async def requeue(self, task_id: str) -> str:
        """'requeued', 'missing', or the status of a task that is not a dead letter."""
        partition = self.keys.partition(task_id)
        keys = [self.keys.task(task_id), self.keys.dead_letters(partition)]
        args = [
            task_id,
            self.keys.queue_prefix(partition),
            int(time.time() * 1000),
            LEVEL_WEIGHT,
            self.keys.wakeup_channel,
        ]
        return str(await self.lua.run("requeue_dead", keys, args))

    @redis_boundary
    async def forget_expired(self, now_ms: int) -> None:
        """Drop entries whose task records have expired with the retention period."""
        if not self.retention_ms:
            return
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zremrangebyscore(
                self.keys.dead_letters(partition), "-inf", now_ms - self.retention_ms
            )
        await pipe.execute()
