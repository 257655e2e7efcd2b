"""The newest batches and workflows, per owner and overall: what the console lists them by.
Entries older than a record can live are trimmed as new ones come; ones whose record
expired sooner are dropped by the reader that finds them gone (``forget``)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary


class RecentIndex:
    def __init__(self, client: aioredis.Redis, keys: Keys, kind: str, keep_s: int) -> None:
        self.redis = client
        self.keys = keys
        self.kind = kind
        self.keep_s = keep_s  # 0: kept until their records are found gone

    def _indexes(self, owner: str) -> list[str]:
        return [self.keys.recent(self.kind, owner), self.keys.recent(self.kind, None)]

    def queue_add(self, pipe: Any, item_id: str, owner: str, at_s: float) -> None:
        for index in self._indexes(owner):
            pipe.zadd(index, {item_id: at_s}, nx=True)  # a replay keeps its first place
            if self.keep_s:
                pipe.zremrangebyscore(index, "-inf", f"({at_s - self.keep_s}")

    @redis_boundary
    async def newest(self, owner: str | None, count: int, before_s: float | None) -> list[str]:
        """Ids, newest first, of ``owner``'s (None: everyone's) created before ``before_s``."""
        top = f"({before_s}" if before_s is not None else "+inf"
        ids = await self.redis.zrevrangebyscore(
            self.keys.recent(self.kind, owner), top, "-inf", start=0, num=count
        )
        return [str(i) for i in ids]

    @redis_boundary
    async def forget(self, item_ids: list[str], owner: str) -> None:
        if item_ids:
            pipe = self.redis.pipeline(transaction=False)
            for index in self._indexes(owner):
                pipe.zrem(index, *item_ids)
            await pipe.execute()
