"""API keys: only their SHA-256 digests are stored, never the keys themselves."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

KEY_PREFIX = "vf_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for."""

    name: str
    role: str  # "admin" or "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, owner: str | None) -> bool:
        """Admins see everything; others only what they created."""
        return self.is_admin or owner == self.name


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    @redis_boundary
    async def create(self, name: str, role: str, created_at: float) -> str:
        api_key = new_api_key()
        await self.store(api_key, name, role, created_at)
        return api_key

    @redis_boundary
    async def store(self, api_key: str, name: str, role: str, created_at: float) -> None:
        key_hash = digest(api_key)
        pipe = self.redis.pipeline(transaction=False)  # spans slots: record, then index
        pipe.hset(
            self.keys.api_key(key_hash),
            mapping={"name": name, "role": role, "created_at": repr(created_at)},
        )
        pipe.sadd(self.keys.api_key_index, key_hash)
        await pipe.execute()

    @redis_boundary
    async def lookup(self, api_key: str) -> Principal | None:
        record = await self.redis.hmget(self.keys.api_key(digest(api_key)), ["name", "role"])
        name, role = record
        if name is None:
            return None
        return Principal(name=str(name), role=str(role or "user"))
