"""Console sessions in Redis: what a signed-in browser's cookie stands for.

A session keeps a reference to the credential it was opened with, never the credential: an
API key's digest (the same digest the key's own record is stored under), or a JWT's
verified claims (its principal and expiry), checked again on every request. So a revoked
key ends its sessions as soon as the gateway's key cache forgets it, and a JWT's session
ends when the token would have expired."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class ConsoleSession:
    session_id: str
    kind: str  # "key": credential is an API key's digest; "jwt": the token's claims, JSON
    credential: str
    csrf_token: str
    created_at: float


class ConsoleSessions:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    @redis_boundary
    async def open(self, kind: str, credential: str, now: float, ttl_s: int) -> ConsoleSession:
        session = ConsoleSession(
            session_id=secrets.token_urlsafe(32),
            kind=kind,
            credential=credential,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
        )
        key = self.keys.console_session(session_digest(session.session_id))
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "kind": kind,
                "credential": credential,
                "csrf": session.csrf_token,
                "created_at": repr(now),
            },
        )
        pipe.expire(key, max(1, ttl_s))
        await pipe.execute()
        return session

    @redis_boundary
    async def find(self, session_id: str) -> ConsoleSession | None:
        record = await self.redis.hgetall(self.keys.console_session(session_digest(session_id)))
        if not record or "csrf" not in record:
            return None
        return ConsoleSession(
            session_id=session_id,
            kind=str(record.get("kind", "")),
            credential=str(record.get("credential", "")),
            csrf_token=str(record["csrf"]),
            created_at=float(record.get("created_at") or 0.0),
        )

    @redis_boundary
    async def close(self, session_id: str) -> None:
        await self.redis.delete(self.keys.console_session(session_digest(session_id)))
