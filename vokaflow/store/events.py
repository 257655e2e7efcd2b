"""Task and batch events, written to one Redis stream for the webhook dispatcher.

Only events of principals that have a webhook are written, so a service without webhooks
pays nothing per task. Each entry has the fields ``event`` (``task.completed``,
``task.failed``, ``task.timeout``, ``task.cancelled`` or ``batch.completed``), ``owner``,
``id`` (the task or batch id) and ``at`` (epoch seconds). The dispatcher reads the current
record for the payload, so entries stay small.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from vokaflow.domain import FINISHED
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

STREAM_MAX_LEN = 100_000
OWNERS_REFRESH_S = 1.0

TASK_EVENTS = {status.value: f"task.{status.value}" for status in FINISHED}
BATCH_COMPLETED = "batch.completed"
EVENT_TYPES = (*TASK_EVENTS.values(), BATCH_COMPLETED)


@dataclass(frozen=True)
class Event:
    event: str
    owner: str
    subject_id: str
    at: float

    @classmethod
    def task_ended(cls, status: str, owner: str, task_id: str, at: float) -> Event | None:
        event = TASK_EVENTS.get(status)
        return None if event is None else cls(event, owner, task_id, at)

    def fields(self) -> dict[str, str]:
        return {
            "event": self.event,
            "owner": self.owner,
            "id": self.subject_id,
            "at": repr(self.at),
        }


class EventLog:
    """The writing side. ``refresh_owners`` is called on the webhooks channel's message;
    otherwise the owner set is read again at most every OWNERS_REFRESH_S."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._owners: frozenset[str] = frozenset()
        self._owners_read_at = float("-inf")

    def refresh_owners(self) -> None:
        self._owners_read_at = float("-inf")

    async def _listening_owners(self) -> frozenset[str]:
        if time.monotonic() - self._owners_read_at >= OWNERS_REFRESH_S:
            self._owners_read_at = time.monotonic()
            members = await self.redis.smembers(self.keys.webhook_owners)
            self._owners = frozenset(str(m) for m in members)
        return self._owners

    @redis_boundary
    async def emit(self, events: Iterable[Event | None]) -> int:
        """Append the events whose owner has a webhook; returns how many were written."""
        wanted = [e for e in events if e is not None]
        if not wanted:
            return 0
        owners = await self._listening_owners()
        wanted = [e for e in wanted if e.owner in owners]
        if not wanted:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for event in wanted:
            pipe.xadd(
                self.keys.event_stream,
                event.fields(),  # type: ignore[arg-type]
                maxlen=STREAM_MAX_LEN,
                approximate=True,
            )
        await pipe.execute()
        return len(wanted)


EventEntry = tuple[str, dict[str, str]]


class EventQueue:
    """The reading side, for the one webhook dispatcher: a consumer group on the stream, so
    that an entry stays pending until it is acknowledged, across the dispatcher's restarts."""

    def __init__(self, client: aioredis.Redis, keys: Keys, consumer: str) -> None:
        self.redis = client
        self.keys = keys
        self.consumer = consumer

    @redis_boundary
    async def open(self) -> None:
        """Create the stream and its group unless they exist."""
        try:
            await self.redis.xgroup_create(
                self.keys.event_stream, self.keys.event_group, id="0", mkstream=True
            )
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @redis_boundary
    async def read(self, after: str, count: int, block_ms: int | None) -> list[EventEntry]:
        """Entries after ``after``: "0" for those read before but not acknowledged, ">" for
        new ones (waiting up to ``block_ms`` for one)."""
        reply: Any = await self.redis.xreadgroup(
            self.keys.event_group,
            self.consumer,
            {self.keys.event_stream: after},
            count=count,
            block=block_ms,
        )
        return [(str(i), dict(f or {})) for _, entries in reply or [] for i, f in entries]

    @redis_boundary
    async def acknowledge(self, entry_id: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.keys.event_stream, self.keys.event_group, entry_id)
        pipe.xdel(self.keys.event_stream, entry_id)
        await pipe.execute()
