"""A principal's own Redis streams and channels: what the realtime and notification
functions write, and nothing else.

Every name lies under ``Keys.tenant_space(owner)``: a digest of the principal, so a task
can name neither the service's own keys (the webhook event stream, the scheduler's
channels) nor another principal's. A principal keeps at most ``max_streams`` streams; each
holds at most ``max_length`` events and ``max_bytes`` of them (the oldest go first), and
expires ``ttl_s`` after its last one: a principal's streams hold at most
max_streams × max_bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import lua_source


class TooManyStreams(RuntimeError):
    """The principal has its limit of live streams."""


@dataclass(frozen=True)
class StreamLimits:
    max_streams: int
    max_length: int
    max_bytes: int
    ttl_s: int


@dataclass(frozen=True)
class Appended:
    entry_id: str
    stream: str
    length: int
    groups: int


class TenantChannels:
    def __init__(self, client: redis.Redis, keys: Keys, owner: str, limits: StreamLimits):
        self.redis = client
        self.space = keys.tenant_space(owner)
        self.limits = limits
        self._append = client.register_script(lua_source("tenant_stream_append"))

    def stream(self, name: str) -> str:
        return f"{self.space}:stream:{name}"

    def channel(self, name: str) -> str:
        return f"{self.space}:channel:{name}"

    def audience(self, name: str) -> str:
        return f"{self.space}:notify:{name}"

    def append(self, name: str, event: str, max_length: int) -> Appended:
        """Add ``event`` to the stream ``name``, kept to ``max_length`` (at most the limit)."""
        stream = self.stream(name)
        ttl_ms = self.limits.ttl_s * 1000
        length = min(max_length, self.limits.max_length)
        now_ms = int(time.time() * 1000)
        limits = self.limits
        args: list[str | int] = [
            name,
            now_ms,
            ttl_ms,
            limits.max_streams,
            length,
            limits.max_bytes,
            event,
        ]
        keys = [f"{self.space}:streams", stream, f"{self.space}:stream-bytes"]
        reply: list[Any] = self._append(keys=keys, args=args)
        if not reply[0]:
            raise TooManyStreams(
                f"this key already has {self.limits.max_streams} streams "
                "(VOKAFLOW_TENANT_STREAMS_MAX); publish to one of them, or wait until one "
                "expires"
            )
        entry_id, total, groups = reply
        return Appended(str(entry_id), stream, int(total), int(groups))

    def publish(self, channel: str, message: str) -> int:
        """PUBLISH: how many subscribers got it; nobody acknowledges a message."""
        return int(self.redis.publish(channel, message))
