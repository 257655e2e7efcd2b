"""``realtime`` functions: events for live consumers, through Redis.

A stream (``<key_prefix>:events:<stream>``) keeps the last ``maxlen`` or so events, so a
consumer that was away can read what it missed (XREAD, or XREADGROUP with a consumer
group). A channel of the same name delivers only to those subscribed at that moment.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal

import redis
from pydantic import Field

from vokaflow.config import Settings, load_settings
from vokaflow.functions.registry import function
from vokaflow.schemas import WorkerType
from vokaflow.store.redis_client import connect_sync
from vokaflow.workers.context import current_task

# Lowercase names that are safe in a Redis key and a channel: no spaces, colons or dots.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]


@functools.cache
def _client(url: str) -> redis.Redis:
    return connect_sync(url, decode_responses=True, socket_timeout=2.0)


def service_redis() -> tuple[redis.Redis, Settings]:
    """The running task's Redis and settings; outside a task, VOKAFLOW_REDIS_URL's."""
    task = current_task()
    if task is not None:
        return task.redis, task.settings
    settings = load_settings()
    if not settings.redis_url:
        raise RuntimeError("outside a task, set VOKAFLOW_REDIS_URL to publish")
    return _client(settings.redis_url), settings


def events_key(prefix: str, stream: str) -> str:
    return f"{prefix}:events:{stream}"


@function(
    category="realtime",
    worker_type=WorkerType.GENERAL_PURPOSE,
    description="Appends an event to a Redis stream, or publishes it on a Redis channel",
    estimated_duration="<1 second",
)
def publish_event(
    stream: Slug,
    event: dict[str, Any],
    mode: Literal["stream", "channel"] = "stream",
    maxlen: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000,
) -> dict[str, Any]:
    client, settings = service_redis()
    name = events_key(settings.key_prefix, stream)
    encoded = json.dumps(event, separators=(",", ":"))
    if mode == "channel":
        # PUBLISH answers how many subscribers got the message: nobody acknowledges it.
        return {"channel": name, "acks": client.publish(name, encoded)}
    return _append(client, name, encoded, maxlen)


def _append(client: redis.Redis, key: str, encoded: str, maxlen: int) -> dict[str, Any]:
    # Approximate trimming (MAXLEN ~) drops whole stream nodes, so a stream may hold a few
    # entries more than maxlen; trimming to the exact length would cost far more per XADD.
    pipe = client.pipeline(transaction=False)
    pipe.xadd(key, {"event": encoded}, maxlen=maxlen, approximate=True)
    pipe.xlen(key)
    pipe.xinfo_groups(key)
    entry_id, length, groups = pipe.execute()
    return {"id": entry_id, "stream": key, "length": length, "groups": len(groups)}
