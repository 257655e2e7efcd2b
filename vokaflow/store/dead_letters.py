"""Dead letters: tasks that failed after all their retries, listed per partition until
their records expire, and sent back to their queues on request."""

from __future__ import annotations

import heapq
import time
from typing import cast

import redis.asyncio as aioredis

from vokaflow.domain.priority import LEVEL_WEIGHT
from vokaflow.domain.task import TaskField, task_owner
from vokaflow.store.keys import Keys
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
        lists everyone's. An owner's listing reads only that owner's index, so it costs in
        proportion to its own dead letters."""
        pipe = self.redis.pipeline(transaction=False)
        floor = time.time() * 1000 - self.retention_ms if self.retention_ms else "-inf"
        # the page's newest can all lie in one partition: each gives its first offset+limit
        depth = min(offset + limit, SCAN_PER_PARTITION)
        for partition in range(self.keys.partitions):
            if owner is None:
                key = self.keys.dead_letters(partition)
            else:
                key = self.keys.owner_dead_letters(partition, owner)
                pipe.zremrangebyscore(key, "-inf", floor)  # those whose records expired
            pipe.zcard(key)
            pipe.zrevrange(key, 0, depth - 1, withscores=True)
        replies = await pipe.execute()
        if owner is not None:
            replies = [r for i, r in enumerate(replies) if i % 3]  # the trims' counts out
        total = sum(int(n) for n in replies[0::2])
        merged = heapq.merge(*replies[1::2], key=lambda pair: -pair[1])
        ids = [str(task_id) for task_id, _ in merged]
        return total, ids[offset : offset + limit]

    @redis_boundary
    async def index_owners(self) -> int:
        """Add dead letters listed before owners had indexes of their own to their owner's;
        once per Redis (a marker key remembers). Returns how many were indexed."""
        if await self.redis.exists(self.keys.owner_dead_letters_indexed):
            return 0
        indexed = 0
        for partition in range(self.keys.partitions):
            entries = cast(
                list[tuple[str, float]],
                await self.redis.zrange(self.keys.dead_letters(partition), 0, -1, withscores=True),
            )
            pipe = self.redis.pipeline(transaction=False)
            for task_id, _ in entries:
                pipe.hget(self.keys.task(str(task_id)), TaskField.SPEC)
            specs = await pipe.execute()
            pipe = self.redis.pipeline(transaction=False)
            for (task_id, failed_ms), spec in zip(entries, specs, strict=True):
                if spec is not None:
                    own = self.keys.owner_dead_letters(partition, task_owner(spec) or "")
                    pipe.zadd(own, {str(task_id): failed_ms})
                    if self.retention_ms:
                        pipe.pexpire(own, self.retention_ms)
                    indexed += 1
            await pipe.execute()
        await self.redis.set(self.keys.owner_dead_letters_indexed, "1")
        return indexed

    @redis_boundary
    async def requeue(self, task_id: str) -> tuple[str, dict[str, str] | None]:
        """('requeued', the record as the requeue left it), ('missing', None), or the
        status of a task that is not a dead letter with None."""
        partition = self.keys.partition(task_id)
        keys = [self.keys.task(task_id), self.keys.dead_letters(partition)]
        args = [
            task_id,
            self.keys.queue_prefix(partition),
            int(time.time() * 1000),
            LEVEL_WEIGHT,
            self.keys.wakeup_channel,
            self.keys.partition_prefix(partition),
        ]
        reply = await self.lua.run("requeue_dead", keys, args)
        outcome = str(reply[0])
        if len(reply) < 2:
            return outcome, None
        flat = [str(item) for item in reply[1]]
        return outcome, dict(zip(flat[::2], flat[1::2], strict=True))

    @redis_boundary
    async def discard(self, task_id: str, owner: str) -> bool:
        """Take a dead letter off the lists; its record stays, failed, until it expires.
        False when it was not listed."""
        partition = self.keys.partition(task_id)
        pipe = self.redis.pipeline(transaction=True)  # one slot: the partition's
        pipe.zrem(self.keys.dead_letters(partition), task_id)
        pipe.zrem(self.keys.owner_dead_letters(partition, owner), task_id)
        removed, _ = await pipe.execute()
        return bool(removed)

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
