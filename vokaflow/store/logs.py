"""Log entries in Redis: a bounded list per task, and one bounded stream for the service.

A task's list holds what its function printed or logged and its retries; the rest of its
history (submitted, dispatched, started, finished) is read from its record, so a task that
prints nothing costs no log memory. The list expires with the task's record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary

MAX_TASK_LINES = 500
SYSTEM_LOG_MAX_LEN = 10_000
SYSTEM_SCAN_PAGE = 500
SYSTEM_SCAN_LIMIT = SYSTEM_LOG_MAX_LEN  # a filtered read looks at most this far back

Entry = dict[str, Any]


def level_number(name: str) -> int:
    number = logging.getLevelName(name.upper())
    return number if isinstance(number, int) else logging.INFO


class LogStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_s * 1000

    def queue_writes(
        self, pipe: Any, task_lines: Mapping[str, Sequence[Entry]], system: Sequence[Entry]
    ) -> None:
        """Add the writes to a pipeline that the caller executes."""
        for task_id, lines in task_lines.items():
            if not lines:
                continue
            key = self.keys.task_log(task_id)
            pipe.rpush(key, *(json.dumps(line) for line in lines))
            pipe.ltrim(key, -MAX_TASK_LINES, -1)
            if self.retention_ms:
                pipe.pexpire(key, self.retention_ms)
        for entry in system:
            pipe.xadd(
                self.keys.system_log,
                {"entry": json.dumps(entry)},
                maxlen=SYSTEM_LOG_MAX_LEN,
                approximate=True,
            )

    @redis_boundary
    async def write(
        self, task_lines: Mapping[str, Sequence[Entry]], system: Sequence[Entry]
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        self.queue_writes(pipe, task_lines, system)
        await pipe.execute()

    @redis_boundary
    async def task_lines(self, task_id: str) -> list[Entry]:
        raw = await self.redis.lrange(self.keys.task_log(task_id), 0, -1)
        return [json.loads(line) for line in raw]

    @redis_boundary
    async def system_entries(
        self, min_level: str, limit: int, visible: Iterable[str] | None
    ) -> list[Entry]:
        """The newest entries at ``min_level`` or above, newest first. ``visible``: the
        owners whose entries may be returned (None: every entry, for admins)."""
        floor = level_number(min_level)
        owners = None if visible is None else set(visible)
        found: list[Entry] = []
        upper, scanned = "+", 0
        while len(found) < limit and scanned < SYSTEM_SCAN_LIMIT:
            page = await self.redis.xrevrange(self.keys.system_log, upper, "-", SYSTEM_SCAN_PAGE)
            if not page:
                break
            for _, fields in page:
                entry = json.loads(str((fields or {}).get("entry") or "{}"))
                if level_number(entry.get("level", "INFO")) >= floor and (
                    owners is None or entry.get("owner") in owners
                ):
                    found.append(entry)
            scanned += len(page)
            upper = f"({page[-1][0]!s}"
        return found[:limit]
