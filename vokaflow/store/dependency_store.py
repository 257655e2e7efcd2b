"""Dependencies in Redis: a waiting child's registration with its parents, each parent's end
counted once in the child's slot, the child's release, and the sweep's view of the waiting
index. What to do with them is lifecycle.dependencies'."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from vokaflow.domain import TaskStatus
from vokaflow.domain.priority import FAIR_QUANTUM_MS, FAIR_WINDOWS_MS, LEVEL_WEIGHT
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import LuaScripts, redis_boundary


@dataclass(frozen=True)
class ParentEnd:
    """One parent's end, told to one child; status '' for a parent whose record is gone."""

    child_id: str
    parent_id: str
    status: str

    @property
    def completed(self) -> bool:
        return self.status == TaskStatus.COMPLETED.value

    def error_json(self) -> str:
        """The child's error when this end fails it (trigger_rule all_success)."""
        ended = f"ended {self.status}" if self.status else "has no record left"
        message = f"Parent task {self.parent_id} {ended}; this task did not run"
        return json.dumps({"type": "UpstreamFailed", "message": message, "traceback": None})


class DependencyStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_ms: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_ms = retention_ms
        self.lua = LuaScripts(client, ["dep_register", "dep_done", "dep_release"])

    @redis_boundary
    async def register(self, edges: Sequence[tuple[str, str]]) -> list[str]:
        """Add each (child, parent) edge's child to the parent's children, in one round
        trip; returns each parent's status now ('' for a parent without a record)."""
        pipe = self.redis.pipeline(transaction=False)
        for child_id, parent_id in edges:
            keys = [self.keys.task(parent_id), self.keys.children(parent_id)]
            self.lua.queue(pipe, "dep_register", keys, [child_id, self.retention_ms])
        return [str(status) for status in await pipe.execute()]

    @redis_boundary
    async def children(self, parent_ids: Sequence[str]) -> dict[str, list[str]]:
        pipe = self.redis.pipeline(transaction=False)
        for parent_id in parent_ids:
            pipe.smembers(self.keys.children(parent_id))
        found = await pipe.execute()
        return {p: sorted(str(c) for c in kids) for p, kids in zip(parent_ids, found, strict=True)}

    @redis_boundary
    async def parents_ended(self, ends: Sequence[ParentEnd], now_s: float) -> list[str]:
        """dep_done.lua for each end: 'stale', 'counted', 'waiting', 'ready' or
        'upstream_failed' (the child ended so)."""
        pipe = self.redis.pipeline(transaction=False)
        for end in ends:
            keys = [
                self.keys.task(end.child_id),
                self.keys.parents_ended(end.child_id),
                self.keys.waiting(self.keys.partition(end.child_id)),
            ]
            args = [
                end.child_id,
                end.parent_id,
                "1" if end.completed else "0",
                repr(now_s),
                end.error_json(),
                self.retention_ms,
                self.keys.partition_prefix(self.keys.partition(end.child_id)),
            ]
            self.lua.queue(pipe, "dep_done", keys, args)
        return [str(reply) for reply in await pipe.execute()]

    @redis_boundary
    async def release(self, child_ids: Sequence[str], now_ms: int) -> list[bool]:
        """Queue children whose parents ended, in one round trip; False for one that no
        longer waits."""
        pipe = self.redis.pipeline(transaction=False)
        for child_id in child_ids:
            partition = self.keys.partition(child_id)
            keys = [
                self.keys.task(child_id),
                self.keys.parents_ended(child_id),
                self.keys.waiting(partition),
            ]
            args = [
                child_id,
                now_ms,
                self.keys.partition_prefix(partition),
                LEVEL_WEIGHT,
                FAIR_QUANTUM_MS,
                *FAIR_WINDOWS_MS,
            ]
            self.lua.queue(pipe, "dep_release", keys, args)
        return [bool(reply) for reply in await pipe.execute()]

    @redis_boundary
    async def due_for_a_check(self, now_ms: int, per_partition: int) -> list[str]:
        """Waiting tasks whose parents a sweep should check now, oldest check first."""
        pipe = self.redis.pipeline(transaction=False)
        for partition in range(self.keys.partitions):
            pipe.zrangebyscore(self.keys.waiting(partition), "-inf", now_ms, 0, per_partition)
        return [str(task_id) for found in await pipe.execute() for task_id in found]

    @redis_boundary
    async def check_later(self, next_check_ms: dict[str, int]) -> None:
        """When the sweep next checks each of these waiting tasks (those still waiting)."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id, at_ms in next_check_ms.items():
            waiting = self.keys.waiting(self.keys.partition(task_id))
            pipe.zadd(waiting, {task_id: at_ms}, xx=True)
        await pipe.execute()


def has_ended(status: str) -> bool:
    return status != "" and TaskStatus(status).is_terminal
