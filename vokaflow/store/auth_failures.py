"""Repeated failed authentication from one client: counted globally in Redis per fixed
window; past the limit the client gets 429 until the window ends, even with a good key.

Successful requests cost nothing here: Redis is touched only on a failure, and a replica
remembers the clients it has blocked, so it refuses them without a round trip."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from vokaflow.errors import TooManyAuthFailures
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary


class AuthFailureLimiter:
    def __init__(self, client: aioredis.Redis, keys: Keys, limit: int, window_s: int) -> None:
        self.redis = client
        self.keys = keys
        self.limit = limit
        self.window_s = window_s
        self._blocked_until: dict[str, tuple[float, int]] = {}  # client -> (until, count)

    def _window(self, now: float) -> tuple[int, float]:
        index = int(now // self.window_s)
        return index, (index + 1) * self.window_s

    def _refusal(self, count: int, until: float, now: float) -> TooManyAuthFailures:
        return TooManyAuthFailures(self.limit, count, until, max(1, int(until - now + 0.999)))

    def check(self, client: str) -> None:
        """Raise 429 if this replica has seen ``client`` pass the limit in this window."""
        blocked = self._blocked_until.get(client)
        if blocked is None:
            return
        until, count = blocked
        now = time.time()
        if now >= until:
            del self._blocked_until[client]
            return
        raise self._refusal(count, until, now)

    @redis_boundary
    async def record_failure(self, client: str) -> None:
        """Count one failure; raise 429 if it takes the client past the limit."""
        if self.limit <= 0:
            return
        now = time.time()
        index, until = self._window(now)
        key = self.keys.auth_failures(client, index)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.window_s + 1)
        count, _ = await pipe.execute()
        if int(count) > self.limit:
            self._blocked_until[client] = (until, int(count))
            raise self._refusal(int(count), until, now)
