"""Two implementations of one contract: Redis (production) and in memory (unit tests)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Protocol

import redis.asyncio as aioredis

from vokaflow.ratelimit.bucket import BucketState, Decision, RateLimit, take
from vokaflow.ratelimit.limits import USAGE_WINDOW_S
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import LuaScripts, redis_boundary


class RateLimiter(Protocol):
    limits: Mapping[str, RateLimit]

    async def take(self, category: str, wanted: int, *, partial: bool, owner: str) -> Decision:
        """Tokens for ``owner``'s tasks; the admitted and refused are counted for the
        category and for the owner."""
        ...

    async def usage(self, category: str, owner: str | None = None) -> int:
        """Tasks admitted in the last USAGE_WINDOW_S seconds: everyone's, or ``owner``'s."""
        ...


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, keys: Keys, limits: Mapping[str, RateLimit]):
        self.redis = client
        self.keys = keys
        self.limits = limits
        self.lua = LuaScripts(client, ["token_bucket"])

    @redis_boundary
    async def take(self, category: str, wanted: int, *, partial: bool, owner: str) -> Decision:
        limit = self.limits[category]
        args = [
            limit.limit_per_second,
            limit.burst,
            wanted,
            "1" if partial else "0",
            self.keys.rate_usage_prefix(category),
            self.keys.owner_rate_usage_prefix(category, owner),
        ]
        reply = await self.lua.run("token_bucket", [self.keys.rate_bucket(category)], args)
        return Decision.from_script(reply, wanted, limit)

    @redis_boundary
    async def usage(self, category: str, owner: str | None = None) -> int:
        now = int(time.time())
        prefix = (
            self.keys.rate_usage_prefix(category)
            if owner is None
            else self.keys.owner_rate_usage_prefix(category, owner)
        )
        counts = await self.redis.mget([f"{prefix}{now - i}" for i in range(USAGE_WINDOW_S)])
        return sum(int(c) for c in counts if c)


class InMemoryRateLimiter:
    def __init__(self, limits: Mapping[str, RateLimit], clock: Callable[[], float] = time.time):
        self.limits = limits
        self.clock = clock
        self._buckets: dict[str, BucketState] = {}
        # admitted per second, by category and by (category, owner)
        self._per_second: dict[object, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    async def take(self, category: str, wanted: int, *, partial: bool, owner: str) -> Decision:
        limit = self.limits[category]
        now = self.clock()
        granted, state = take(self._buckets.get(category), wanted, now, limit, partial=partial)
        self._buckets[category] = state
        second = int(now)
        self._per_second[category][second] += granted
        self._per_second[(category, owner)][second] += granted
        used = self._per_second[category][second]
        return Decision(granted, wanted, limit, state.tokens, now, used)

    async def usage(self, category: str, owner: str | None = None) -> int:
        now = int(self.clock())
        counts = self._per_second[category if owner is None else (category, owner)]
        return sum(n for second, n in counts.items() if now - USAGE_WINDOW_S < second <= now)
