"""Log entries in Redis: a bounded list per task, and capped streams for the service.

A task's list holds what its function printed or logged and its retries; the rest of its
history (submitted, dispatched, started, finished) is read from its record, so a task that
prints nothing costs no log memory. The list expires with the task's record.

Task failures, timeouts and retries go to one stream for admins and to one per owner, so a
user's read scans only their own entries; the service's own records have a stream of their
own, which a burst of task failures cannot flush.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync, redis_boundary

MAX_TASK_LINES = 500
SYSTEM_LOG_MAX_LEN = 10_000
OWNER_LOG_MAX_LEN = 1_000
SCAN_PAGE = 500

Entry = dict[str, Any]


def level_number(name: str) -> int:
    number = logging.getLevelName(name.upper())
    return number if isinstance(number, int) else logging.INFO


def queue_stream_entry(pipe: Any, stream: str, entry: Entry, max_len: int) -> None:
    pipe.xadd(stream, {"entry": json.dumps(entry, default=str)}, maxlen=max_len, approximate=True)


class SystemLogSink:
    """Blocking writes of service log entries to the system log stream, for the logging
    thread of vokaflow.observability.service_logs."""

    def __init__(self, redis_url: str, keys: Keys) -> None:
        self.redis_url = redis_url
        self.keys = keys
        self._client: redis.Redis | None = None

    def write(self, entries: Sequence[Entry]) -> None:
        try:
            # made here, and again after a failure: a process started while Redis was away
            # must not keep a client of the wrong kind (single node vs cluster)
            self._client = self._client or connect_sync(
                self.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
            pipe = self._client.pipeline(transaction=False)
            for entry in entries:
                queue_stream_entry(pipe, self.keys.system_log, entry, SYSTEM_LOG_MAX_LEN)
            pipe.execute()
        except Exception:
            self._client = None
            raise


class LogStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_s * 1000

    @redis_boundary
    async def write(
        self,
        task_lines: Mapping[str, Sequence[Entry]],
        task_events: Sequence[Entry],
        also: Callable[[Any], None] | None = None,
    ) -> None:
        """Append task lines and task events (with ``owner``), and whatever ``also`` adds
        to the same pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id, lines in task_lines.items():
            if not lines:
                continue
            key = self.keys.task_log(task_id)
            pipe.rpush(key, *(json.dumps(line) for line in lines))
            pipe.ltrim(key, -MAX_TASK_LINES, -1)
            if self.retention_ms:
                pipe.pexpire(key, self.retention_ms)
        for entry in task_events:
            queue_stream_entry(pipe, self.keys.task_event_log, entry, SYSTEM_LOG_MAX_LEN)
            if entry.get("owner"):
                stream = self.keys.owner_log(str(entry["owner"]))
                queue_stream_entry(pipe, stream, entry, OWNER_LOG_MAX_LEN)
        if also is not None:
            also(pipe)
        await pipe.execute()

    @redis_boundary
    async def task_lines(self, task_id: str) -> list[Entry]:
        raw = await self.redis.lrange(self.keys.task_log(task_id), 0, -1)
        return [json.loads(line) for line in raw]

    @redis_boundary
    async def system_entries(
        self, min_level: str, limit: int, owner: str | None, component: str | None = None
    ) -> list[Entry]:
        """The newest entries at ``min_level`` or above (of ``component`` if given), newest
        first: one principal's task entries, or (``owner`` None, for admins) the service's
        records and every task's."""
        if owner is not None:
            streams = [self.keys.owner_log(owner)]
        else:
            streams = [self.keys.system_log, self.keys.task_event_log]
        floor = level_number(min_level)
        found = [await self._newest(stream, floor, limit, component) for stream in streams]
        newest_first = heapq.merge(*found, key=lambda e: -float(e.get("timestamp") or 0))
        return list(newest_first)[:limit]

    async def _newest(
        self, stream: str, floor: int, limit: int, component: str | None
    ) -> list[Entry]:
        found: list[Entry] = []
        upper, scanned = "+", 0
        while len(found) < limit and scanned < SYSTEM_LOG_MAX_LEN:
            page = await self.redis.xrevrange(stream, upper, "-", SCAN_PAGE)
            if not page:
                break
            for _, fields in page:
                entry = json.loads(str((fields or {}).get("entry") or "{}"))
                wanted = component is None or entry.get("component") == component
                if wanted and level_number(entry.get("level", "INFO")) >= floor:
                    found.append(entry)
            scanned += len(page)
            upper = f"({page[-1][0]!s}"
        return found[:limit]
