"""A workflow's record: its owner, name, nodes and edges, and whether it was cancelled. Its
tasks are ordinary task records (each with its workflow_id)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis

from vokaflow.domain.workflow import WorkflowNode
from vokaflow.store.keys import Keys
from vokaflow.store.recent import RecentIndex
from vokaflow.store.redis_client import LuaScripts, redis_boundary


@dataclass(frozen=True)
class WorkflowRecord:
    workflow_id: str
    owner: str
    name: str
    created_at: float
    nodes: tuple[WorkflowNode, ...]
    cancelled: bool = False

    def to_fields(self) -> dict[str, str]:
        nodes = [[n.name, n.task_id, list(n.depends_on)] for n in self.nodes]
        return {
            "owner": self.owner,
            "name": self.name,
            "created_at": repr(self.created_at),
            "nodes": json.dumps(nodes, separators=(",", ":")),
        }

    @classmethod
    def from_fields(cls, workflow_id: str, fields: dict[str, str]) -> WorkflowRecord:
        return cls(
            workflow_id=workflow_id,
            owner=fields["owner"],
            name=fields["name"],
            created_at=float(fields["created_at"]),
            nodes=tuple(
                WorkflowNode(name, task_id, tuple(parents))
                for name, task_id, parents in json.loads(fields["nodes"])
            ),
            cancelled=fields.get("cancelled") == "1",
        )


class WorkflowStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, retention_s: int = 0) -> None:
        self.redis = client
        self.keys = keys
        self.retention_s = retention_s
        self.lua = LuaScripts(client, ["workflow_cancel"])
        self.recent = RecentIndex(client, keys, "workflows", retention_s * 2)

    @redis_boundary
    async def create(self, record: WorkflowRecord) -> None:
        key = self.keys.workflow(record.workflow_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, items=[part for pair in record.to_fields().items() for part in pair])
        if self.retention_s:
            # kept as long as a task record could be: its tasks may wait and run that long
            pipe.expire(key, self.retention_s * 2)
        await pipe.execute()
        listing = self.redis.pipeline(transaction=False)  # another slot than the record's
        self.recent.queue_add(listing, record.workflow_id, record.owner, record.created_at)
        await listing.execute()

    @redis_boundary
    async def get(self, workflow_id: str) -> WorkflowRecord | None:
        fields = await self.redis.hgetall(self.keys.workflow(workflow_id))
        if "nodes" not in fields:
            return None
        return WorkflowRecord.from_fields(workflow_id, {str(k): str(v) for k, v in fields.items()})

    @redis_boundary
    async def mark_cancelled(self, workflow_id: str) -> bool:
        """False when the record is gone."""
        return bool(await self.lua.run("workflow_cancel", [self.keys.workflow(workflow_id)], []))
