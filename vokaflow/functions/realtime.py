"""``realtime`` functions: events for live consumers, through Redis.

Each principal has its own streams and channels (see vokaflow.store.tenant_channels): the
result names the Redis key a consumer reads. A stream keeps the last ``maxlen`` or so
events, so a consumer that was away can read what it missed (XREAD, or XREADGROUP with a
consumer group); it expires a day (VOKAFLOW_TENANT_STREAM_TTL_S) after its last event. A
channel delivers only to those subscribed at that moment.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from vokaflow.domain import WorkerType
from vokaflow.functions.context import current_task
from vokaflow.functions.registry import function
from vokaflow.store.tenant_channels import TenantChannels

# Lowercase names that are safe in a Redis key and a channel: no spaces, colons or dots.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
MAX_EVENT_BYTES = 16 * 1024


def _small(event: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(event, separators=(",", ":")).encode())
    if size > MAX_EVENT_BYTES:
        raise ValueError(f"takes {size} bytes as JSON; an event takes at most {MAX_EVENT_BYTES}")
    return event


Event = Annotated[dict[str, Any], AfterValidator(_small)]


def own_channels() -> TenantChannels:
    """The running task's principal's streams and channels."""
    task = current_task()
    if task is None:
        raise RuntimeError("realtime and notification functions run as VokaFlow tasks")
    return task.channels


@function(
    category="realtime",
    worker_type=WorkerType.GENERAL_PURPOSE,
    description="Appends an event to one of your Redis streams, or publishes it on one of "
    "your channels",
    estimated_duration="<1 second",
)
def publish_event(
    stream: Slug,
    event: Event,
    mode: Literal["stream", "channel"] = "stream",
    maxlen: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000,
) -> dict[str, Any]:
    channels = own_channels()
    encoded = json.dumps(event, separators=(",", ":"))
    if mode == "channel":
        channel = channels.channel(stream)
        return {"channel": channel, "acks": channels.publish(channel, encoded)}
    appended = channels.append(stream, encoded, maxlen)
    return {
        "id": appended.entry_id,
        "stream": appended.stream,
        "length": appended.length,
        "groups": appended.groups,
    }
