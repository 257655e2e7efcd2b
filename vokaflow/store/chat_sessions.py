"""Chat sessions in Redis: a session's messages, kept with a TTL that each turn renews, so
any gateway replica (and one started later) continues the conversation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

MAX_SESSION_MESSAGES = 200  # older ones are dropped; the model's window trims further


class ChatSessions:
    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_s: int) -> None:
        self.redis = client
        self.keys = keys
        self.ttl_s = ttl_s

    @redis_boundary
    async def history(self, owner: str, session_id: str) -> list[dict[str, Any]]:
        raw = await self.redis.lrange(self.keys.chat_session(owner, session_id), 0, -1)
        return [json.loads(message) for message in raw]

    @redis_boundary
    async def append(
        self,
        owner: str,
        session_id: str,
        messages: Sequence[dict[str, Any]],
        keep: int = MAX_SESSION_MESSAGES,
    ) -> None:
        """Append, then keep only the last ``keep`` messages (at most MAX_SESSION_MESSAGES)."""
        key = self.keys.chat_session(owner, session_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, *(json.dumps(m) for m in messages))
        pipe.ltrim(key, -min(keep, MAX_SESSION_MESSAGES), -1)
        pipe.expire(key, self.ttl_s)
        await pipe.execute()
