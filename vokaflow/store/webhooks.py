"""Webhooks and their delivery attempts in Redis.

A webhook is a hash (url, events, secret, owner, created_at), indexed per owner and
globally. ``Keys.webhook_owners`` lists the owners that have one, since event emitters keep
events of those owners only; every change is published on ``Keys.webhooks_channel`` so the
emitters read that set again at once. The keys span slots, hence plain pipelines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

TEST_EVENT = "webhook.test"
DELIVERIES_KEPT = 200
DELIVERIES_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    url: str
    events: tuple[str, ...]
    secret: str
    owner: str
    created_at: float

    def wants(self, event: str) -> bool:
        return event == TEST_EVENT or event in self.events

    def to_mapping(self) -> dict[str, str]:
        return {
            "url": self.url,
            "events": json.dumps(list(self.events)),
            "secret": self.secret,
            "owner": self.owner,
            "created_at": repr(self.created_at),
        }

    @classmethod
    def from_record(cls, webhook_id: str, record: dict[str, str]) -> Webhook:
        return cls(
            webhook_id=webhook_id,
            url=record["url"],
            events=tuple(json.loads(record["events"])),
            secret=record["secret"],
            owner=record["owner"],
            created_at=float(record["created_at"]),
        )


@dataclass(frozen=True)
class Attempt:
    """One try at delivering one event to one webhook."""

    delivery_id: str
    webhook_id: str
    attempt: int
    event: str
    subject_id: str
    status_code: int | None
    error: str | None
    duration_s: float
    at: float
    outcome: str  # delivered, retrying or failed

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Attempt:
        fields: dict[str, Any] = json.loads(raw)
        return cls(**fields)


class WebhookStore:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    @redis_boundary
    async def create(self, webhook: Webhook) -> None:
        pipe = self.redis.pipeline(transaction=False)
        mapping: dict[Any, Any] = webhook.to_mapping()
        pipe.hset(self.keys.webhook(webhook.webhook_id), mapping=mapping)
        pipe.sadd(self.keys.owner_webhooks(webhook.owner), webhook.webhook_id)
        pipe.sadd(self.keys.webhook_index, webhook.webhook_id)
        pipe.sadd(self.keys.webhook_owners, webhook.owner)
        await pipe.execute()
        await self.redis.publish(self.keys.webhooks_channel, webhook.owner)

    @redis_boundary
    async def delete(self, webhook: Webhook) -> None:
        owner_index = self.keys.owner_webhooks(webhook.owner)
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.webhook(webhook.webhook_id))
        pipe.delete(self.keys.webhook_deliveries(webhook.webhook_id))
        pipe.srem(self.keys.webhook_index, webhook.webhook_id)
        pipe.srem(owner_index, webhook.webhook_id)
        await pipe.execute()
        if await self.redis.scard(owner_index) == 0:
            await self.redis.srem(self.keys.webhook_owners, webhook.owner)
            # a configure that raced this one may have added a webhook meanwhile
            if await self.redis.scard(owner_index) > 0:
                await self.redis.sadd(self.keys.webhook_owners, webhook.owner)
        await self.redis.publish(self.keys.webhooks_channel, webhook.owner)

    @redis_boundary
    async def get(self, webhook_id: str) -> Webhook | None:
        raw = await self.redis.hgetall(self.keys.webhook(webhook_id))
        record = {str(k): str(v) for k, v in raw.items()}
        return Webhook.from_record(webhook_id, record) if record else None

    @redis_boundary
    async def exists(self, webhook_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.webhook(webhook_id)))

    @redis_boundary
    async def of_owner(self, owner: str) -> list[Webhook]:
        return await self._read(await self.redis.smembers(self.keys.owner_webhooks(owner)))

    @redis_boundary
    async def every(self) -> list[Webhook]:
        return await self._read(await self.redis.smembers(self.keys.webhook_index))

    async def _read(self, ids: Iterable[Any]) -> list[Webhook]:
        ordered = sorted(str(i) for i in ids)
        pipe = self.redis.pipeline(transaction=False)
        for webhook_id in ordered:
            pipe.hgetall(self.keys.webhook(webhook_id))
        records = await pipe.execute()
        found = [Webhook.from_record(i, r) for i, r in zip(ordered, records, strict=True) if r]
        return sorted(found, key=lambda webhook: webhook.created_at)

    @redis_boundary
    async def record(self, attempt: Attempt) -> None:
        key = self.keys.webhook_deliveries(attempt.webhook_id)
        if not await self.exists(attempt.webhook_id):
            return  # deleted meanwhile: keep no orphan log
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(key, attempt.to_json())
        pipe.ltrim(key, 0, DELIVERIES_KEPT - 1)
        pipe.expire(key, DELIVERIES_TTL_S)
        await pipe.execute()

    @redis_boundary
    async def attempts(self, webhook_id: str) -> list[Attempt]:
        """The latest attempts, newest first."""
        raw = await self.redis.lrange(self.keys.webhook_deliveries(webhook_id), 0, -1)
        return [Attempt.from_json(str(item)) for item in raw]
