"""Batches: a record with counts per outcome, the ordered task ids, and the held ones.

A batch is written in three steps, each safe to repeat: ``begin`` writes the record (status
``submitting``) with the task ids, whole or not at all; the tasks are written; ``commit``
makes it ``running``. A submission that stops between them (a crash, a 503) is finished by
a replay with the same idempotency key, or else, after a grace period, by the scheduler,
which keeps the tasks that were written (``prune``) and commits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vokaflow.domain import FINISHED, BatchStatus, TaskField, TaskStatus
from vokaflow.store.keys import Keys
from vokaflow.store.recent import RecentIndex
from vokaflow.store.redis_client import LuaScripts, redis_boundary

TERMINAL_COUNTS = tuple(status.value for status in FINISHED)
PAGE = 1000


def _unwritten_error(task_id: str) -> dict[str, Any]:
    """How a task the interrupted submission never wrote shows among the batch's errors."""
    return {
        "index": -1,
        "name": None,
        "error": "service_unavailable",
        "message": f"Task '{task_id}' was not written: the submission was interrupted",
        "details": {"task_id": task_id},
    }


def terminal_counts(record: dict[str, str]) -> dict[str, int]:
    """A batch record's count of tasks per terminal status."""
    return {status: int(record.get(f"n_{status}", "0")) for status in TERMINAL_COUNTS}


@dataclass
class BatchRecord:
    batch_id: str
    owner: str
    execution_mode: str
    total: int
    released: int
    created_at: float
    batch_timeout_s: int | None
    max_failures: int | None
    worker_type: str

    @classmethod
    def from_mapping(cls, batch_id: str, record: dict[str, str]) -> BatchRecord:
        return cls(
            batch_id,
            record["owner"],
            record["execution_mode"],
            int(record["total"]),
            int(record["released"]),
            float(record["created_at"]),
            int(record["batch_timeout"]) if record.get("batch_timeout") else None,
            int(record["max_failures"]) if record.get("max_failures") else None,
            record["worker_type"],
        )

    def to_mapping(self) -> dict[str, str]:
        """The record as begun: ``submitting`` until its tasks are written."""
        return {
            "id": self.batch_id,
            "owner": self.owner,
            "execution_mode": self.execution_mode,
            "total": str(self.total),
            "released": str(self.released),
            "created_at": repr(self.created_at),
            "batch_timeout": "" if self.batch_timeout_s is None else str(self.batch_timeout_s),
            "max_failures": "" if self.max_failures is None else str(self.max_failures),
            "worker_type": self.worker_type,
            "status": BatchStatus.SUBMITTING.value,
            **{f"n_{status}": "0" for status in TERMINAL_COUNTS},
        }


class BatchStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_s = retention_s
        self.lua = LuaScripts(client, ["batch_begin", "batch_commit", "batch_prune"])
        self.recent = RecentIndex(client, keys, "batches", retention_s * 2)

    @redis_boundary
    async def begin(
        self,
        batch: BatchRecord,
        task_ids: Sequence[str],
        held: Sequence[str],
        errors_json: str = "[]",
        digest: str = "",
    ) -> bool:
        """Write a new batch as ``submitting``; False, writing nothing, when its id exists
        (a repeated idempotency key). The refused tasks' errors and the request's digest
        are kept for a replay."""
        record = {**batch.to_mapping(), "errors": errors_json, "digest": digest}
        args: list[Any] = [len(record), *(x for pair in record.items() for x in pair)]
        args += [*task_ids, "", *held]
        pipe = self.redis.pipeline(transaction=False)  # spans slots, in this order
        pipe.zadd(self.keys.batches_submitting, {batch.batch_id: batch.created_at}, nx=True)
        self.lua.queue(pipe, "batch_begin", self._lists(batch.batch_id), args)
        self.recent.queue_add(pipe, batch.batch_id, batch.owner, batch.created_at)
        created = (await pipe.execute())[1]
        return bool(created)

    def queue_listing(self, pipe: Any, batch_id: str, deadline_s: float | None) -> None:
        """Add to the caller's pipeline what lists a batch for the scheduler: its place among
        the running ones and its deadline. Done before its status changes (commit), so a stop
        between the steps never leaves a running batch that nothing tracks."""
        pipe.sadd(self.keys.running_batches, batch_id)
        if deadline_s is not None:
            pipe.zadd(self.keys.batch_deadlines, {batch_id: int(deadline_s * 1000)})

    @redis_boundary
    async def commit(self, batch_id: str) -> None:
        """``running`` from now on (once listed, see queue_listing); safe to repeat."""
        pipe = self.redis.pipeline(transaction=False)  # spans slots, in this order
        self.lua.queue(pipe, "batch_commit", [self.keys.batch(batch_id)], [])
        self._queue_committed(pipe, batch_id)
        await pipe.execute()

    def _queue_committed(self, pipe: Any, batch_id: str) -> None:
        pipe.zrem(self.keys.batches_submitting, batch_id)
        # its tasks may all be done already; a cluster pipeline refuses publish(), not this
        pipe.execute_command("PUBLISH", self.keys.batch_channel, batch_id)

    @redis_boundary
    async def submitting_since(self, before_s: float) -> list[str]:
        """Batches still being submitted that began before ``before_s``."""
        ids = await self.redis.zrangebyscore(self.keys.batches_submitting, "-inf", before_s)
        return [str(i) for i in ids]

    @redis_boundary
    async def forget_submission(self, batch_id: str) -> None:
        await self.redis.zrem(self.keys.batches_submitting, batch_id)

    @redis_boundary
    async def commit_written(self, batch_id: str) -> None:
        """Finish a submission that stopped half way: the batch keeps the tasks that were
        written (the others become errors), then commits; with none left it closes as
        ``aborted``."""
        record = await self.get(batch_id)
        if record is None or record.get("status") != BatchStatus.SUBMITTING:
            pipe = self.redis.pipeline(transaction=False)
            if record is not None:  # committed, but stopped before it said so
                self._queue_committed(pipe, batch_id)
            pipe.zrem(self.keys.batches_submitting, batch_id)
            await pipe.execute()
            return
        missing = await self._unwritten(batch_id)
        if missing:
            errors = json.loads(record.get("errors") or "[]")
            errors += [_unwritten_error(task_id) for task_id in missing]
            args = [json.dumps(errors), *missing]
            record["total"] = str(await self.lua.run("batch_prune", self._lists(batch_id), args))
        if record["total"] == "0":
            await self.close(batch_id, BatchStatus.ABORTED, time.time())
            await self.forget_submission(batch_id)
            return
        timeout = record.get("batch_timeout")
        deadline = float(record["created_at"]) + int(timeout) if timeout else None
        pipe = self.redis.pipeline(transaction=False)
        self.queue_listing(pipe, batch_id, deadline)
        await pipe.execute()
        await self.commit(batch_id)

    async def _unwritten(self, batch_id: str) -> list[str]:
        missing: list[str] = []
        start = 0
        while ids := await self.task_ids(batch_id, start):
            pipe = self.redis.pipeline(transaction=False)
            for task_id in ids:
                pipe.exists(self.keys.task(task_id))
            found = await pipe.execute()
            missing += [task_id for task_id, hit in zip(ids, found, strict=True) if not hit]
            start += PAGE
        return missing

    @redis_boundary
    async def held_ids(self, batch_id: str) -> list[str]:
        return [str(i) for i in await self.redis.lrange(self.keys.batch_held(batch_id), 0, -1)]

    def _lists(self, batch_id: str) -> list[str]:
        return [
            self.keys.batch(batch_id),
            self.keys.batch_tasks(batch_id),
            self.keys.batch_held(batch_id),
        ]

    @redis_boundary
    async def get(self, batch_id: str) -> dict[str, str] | None:
        record = await self.redis.hgetall(self.keys.batch(batch_id))
        return {str(k): str(v) for k, v in record.items()} or None

    @redis_boundary
    async def count_terminal(self, batch_id: str, status: TaskStatus, n: int = 1) -> None:
        if status.is_terminal and n:
            await self.redis.hincrby(self.keys.batch(batch_id), f"n_{status.value}", n)

    @redis_boundary
    async def notify(self, batch_id: str) -> None:
        """Let the scheduler move a batch on (release its next task, or close it)."""
        await self.redis.publish(self.keys.batch_channel, batch_id)

    @redis_boundary
    async def next_held(self, batch_id: str) -> str | None:
        task_id = await self.redis.lpop(self.keys.batch_held(batch_id))
        if task_id is not None:
            await self.redis.hincrby(self.keys.batch(batch_id), "released", 1)
        return None if task_id is None else str(task_id)

    @redis_boundary
    async def task_ids(self, batch_id: str, start: int, count: int = PAGE) -> list[str]:
        ids = await self.redis.lrange(self.keys.batch_tasks(batch_id), start, start + count - 1)
        return [str(i) for i in ids]

    @redis_boundary
    async def close(self, batch_id: str, status: BatchStatus, now_s: float) -> bool:
        """Set the final status once, and let the batch expire after the retention period;
        False when another path closed it first."""
        key = self.keys.batch(batch_id)
        pipe = self.redis.pipeline(transaction=False)  # spans slots; each step is idempotent
        pipe.hsetnx(key, "finished_at", repr(now_s))
        pipe.zrem(self.keys.batch_deadlines, batch_id)
        pipe.srem(self.keys.running_batches, batch_id)
        pipe.delete(self.keys.batch_held(batch_id))
        first, *_ = await pipe.execute()
        if first:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(key, "status", status)
            if self.retention_s:
                pipe.expire(key, self.retention_s)
                pipe.expire(self.keys.batch_tasks(batch_id), self.retention_s)
            await pipe.execute()
        return bool(first)

    @redis_boundary
    async def running(self) -> list[str]:
        return [str(batch_id) for batch_id in await self.redis.smembers(self.keys.running_batches)]

    @redis_boundary
    async def recount(self, batch_id: str) -> None:
        """Set the batch's outcome counts from its tasks' records. The scheduler counts each
        outcome after writing it; one that died in between would leave the batch short."""
        counts = dict.fromkeys(TERMINAL_COUNTS, 0)
        start = 0
        while ids := await self.task_ids(batch_id, start):
            pipe = self.redis.pipeline(transaction=False)
            for task_id in ids:
                pipe.hget(self.keys.task(task_id), TaskField.STATUS)
            for status in await pipe.execute():
                if status in counts:
                    counts[status] += 1
            start += PAGE
        await self.redis.hset(
            self.keys.batch(batch_id), mapping={f"n_{s}": n for s, n in counts.items()}
        )

    @redis_boundary
    async def due(self, now_ms: int) -> list[str]:
        ids = await self.redis.zrangebyscore(self.keys.batch_deadlines, "-inf", now_ms)
        return [str(i) for i in ids]
